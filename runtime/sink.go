package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"
	"unsafe"
)

// Sink receives every event of every run, in order per run, before the run
// moves on. Emit is called synchronously from the run, so a durable sink can
// write and sync before it returns. An error stops the run: it ends failed
// with an error wrapping ErrSink, and its history ends with the last event
// the sink accepted, so Resume can continue it once the sink works again.
// Emit may keep e, State included (the runtime never reuses the bytes; events
// of one run may share them while the state does not change), but must not
// modify it.
type Sink interface {
	Emit(ctx context.Context, e Event) error
}

// HistoryLoader is implemented by sinks that can read a run's history back
// (MemorySink, durable stores). Status and Flow.Status use it.
type HistoryLoader interface {
	LoadHistory(ctx context.Context, runID string) ([]Event, error)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, e Event) error

// Emit calls f.
func (f SinkFunc) Emit(ctx context.Context, e Event) error { return f(ctx, e) }

type nopSink struct{}

func (nopSink) Emit(context.Context, Event) error { return nil }

// MemorySink keeps every event in memory: for tests, examples, and Status of
// finished runs in a process without a store. An event is kept in 32 bytes
// without pointers: what the events of a flow's runs share (flow, step,
// states, outcome, time zone) is interned once as the event's shape, its
// strings and snapshot in per-sink tables; slots are chunked and linked per
// run. Recording an event allocates nothing but the occasional chunk, and
// the garbage collector never scans the history, so a large history costs a
// busy process little but its memory.
type MemorySink struct {
	mu     sync.Mutex
	index  map[string]int32 // run ID -> position in runs
	runs   []memRun
	chunks [][]memSlot
	used   int32 // slots used
	// The run of the previous event: runs emit several events in a row, so
	// this usually saves the map lookup.
	lastID  string
	lastRun int32

	shapes   []memShape
	shapeIdx map[memShape]uint32
	// follow[i] is the shape of the last event that followed one of shape i
	// in its run (follow[noShape]: the last first event): runs of a flow
	// take the same transitions, so it is the best guess for the next one.
	follow []uint32
	strs   []string          // interned strings; 0 is ""
	strIdx map[string]uint32 // string -> position in strs
	// hot remembers recently interned strings by their bytes' address: a
	// run passes the same strings again and again, and comparing addresses
	// is much cheaper than hashing them. An entry holds its string, so the
	// address cannot be reused meanwhile.
	hot    [1 << hotBits]hotString
	states []json.RawMessage // distinct snapshots; 0 is nil
	locs   []*time.Location  // time zones of event times
	big    map[int32]Event   // events that do not fit a slot, by slot number
}

const hotBits = 7

type hotString struct {
	s string
	i uint32
}

type memRun struct {
	id          string
	first, last int32 // slot numbers
	n           int32
}

// memSlot is an event in 32 bytes; see MemorySink.event.
type memSlot struct {
	nanos   int64  // Time in Unix nanoseconds (its zone is in the shape)
	seq     uint32 // Seq
	next    int32  // next slot of the same run, -1 at the end
	shape   uint32 // position in shapes; bigShape: the event is in big
	state   uint32 // position in states
	err     uint32 // position in strs
	attempt int32
}

// memShape is what events of many runs have in common.
type memShape struct {
	flow, step, from, to, outcome uint32 // positions in strs
	loc                           uint32 // position in locs
}

const (
	noShape  = 0 // the shape before a run's first event; no event has it
	bigShape = math.MaxUint32
)

const memChunk = 512 // 16 KiB: a small-object size class, no large-object churn

// NewMemorySink returns an empty MemorySink.
func NewMemorySink() *MemorySink {
	m := &MemorySink{index: make(map[string]int32)}
	m.resetTables()
	return m
}

func (m *MemorySink) resetTables() {
	clear(m.strs) // let go of what the old entries referenced
	clear(m.states)
	m.shapes = append(m.shapes[:0], memShape{})
	m.shapeIdx = make(map[memShape]uint32)
	m.follow = append(m.follow[:0], noShape)
	m.strs = append(m.strs[:0], "")
	m.strIdx = make(map[string]uint32)
	m.hot = [len(m.hot)]hotString{}
	m.states = append(m.states[:0], nil)
	m.locs = m.locs[:0]
	m.big = nil
}

func (m *MemorySink) slot(i int32) *memSlot { return &m.chunks[i/memChunk][i%memChunk] }

// intern returns the position of s in m.strs, adding it if needed.
func (m *MemorySink) intern(s string, hint uint32) uint32 {
	if s == "" {
		return 0
	}
	if m.strs[hint] == s { // equal headers compare without reading the bytes
		return hint
	}
	// Fibonacci hashing of the address: short strings sit a few bytes
	// apart, so every bit of it counts.
	p := uint64(uintptr(unsafe.Pointer(unsafe.StringData(s)))) + uint64(len(s))
	h := &m.hot[(p*0x9e3779b97f4a7c15)>>(64-hotBits)]
	if unsafe.StringData(h.s) == unsafe.StringData(s) && len(h.s) == len(s) {
		return h.i
	}
	i, ok := m.strIdx[s]
	if !ok {
		i = uint32(len(m.strs))
		m.strs = append(m.strs, s)
		m.strIdx[s] = i
	}
	h.s, h.i = s, i
	return i
}

// shapeOf returns the position of e's shape in m.shapes, adding it if
// needed; prev is the shape of the run's previous event.
func (m *MemorySink) shapeOf(e *Event, loc uint32, prev uint32) uint32 {
	if g := m.follow[prev]; g != noShape {
		if s := &m.shapes[g]; s.loc == loc && m.strs[s.to] == e.To && m.strs[s.from] == e.From &&
			m.strs[s.step] == e.Step && m.strs[s.outcome] == e.Outcome && m.strs[s.flow] == e.Flow {
			return g
		}
	}
	p := &m.shapes[prev]
	k := memShape{
		flow:    m.intern(e.Flow, p.flow),
		step:    m.intern(e.Step, p.step),
		from:    m.intern(e.From, p.to),
		to:      m.intern(e.To, 0),
		outcome: m.intern(e.Outcome, p.outcome),
		loc:     loc,
	}
	i, ok := m.shapeIdx[k]
	if !ok {
		i = uint32(len(m.shapes))
		m.shapes = append(m.shapes, k)
		m.follow = append(m.follow, noShape)
		m.shapeIdx[k] = i
	}
	m.follow[prev] = i
	return i
}

// internState returns the position of b in m.states. Events of a run share
// their snapshot while the state does not change, so the previous event's
// snapshot is the only one worth comparing with; the comparison is of the
// slice itself, so that History returns exactly what Emit was given.
func (m *MemorySink) internState(b json.RawMessage, prev uint32) uint32 {
	if b == nil {
		return 0
	}
	if p := m.states[prev]; unsafe.SliceData(p) == unsafe.SliceData(b) && len(p) == len(b) && cap(p) == cap(b) {
		return prev
	}
	m.states = append(m.states, b)
	return uint32(len(m.states) - 1)
}

// Unix seconds whose nanoseconds fit an int64, with a margin.
const minNanoSec, maxNanoSec = math.MinInt64/1_000_000_000 + 1, math.MaxInt64/1_000_000_000 - 1

// zone returns the position of t's zone in m.locs, and whether t fits a
// slot: no monotonic clock reading (time.Time.Round(0) drops it), Unix
// nanoseconds within an int64, and not too many zones.
func (m *MemorySink) zone(t time.Time) (uint32, bool) {
	if sec := t.Unix(); sec < minNanoSec || sec > maxNanoSec || t != t.Round(0) {
		return 0, false
	}
	loc := t.Location()
	for i, l := range m.locs {
		if l == loc {
			return uint32(i), true
		}
	}
	if len(m.locs) >= 64 {
		return 0, false
	}
	m.locs = append(m.locs, loc)
	return uint32(len(m.locs) - 1), true
}

// event rebuilds the event in slot i of run.
func (m *MemorySink) event(run *memRun, i int32) Event {
	sl := m.slot(i)
	if sl.shape == bigShape {
		return m.big[i]
	}
	s := &m.shapes[sl.shape]
	return Event{
		RunID:   run.id,
		Seq:     uint64(sl.seq),
		Time:    time.Unix(0, sl.nanos).In(m.locs[s.loc]),
		Flow:    m.strs[s.flow],
		Step:    m.strs[s.step],
		From:    m.strs[s.from],
		To:      m.strs[s.to],
		Attempt: int(sl.attempt),
		Outcome: m.strs[s.outcome],
		Error:   m.strs[sl.err],
		State:   m.states[sl.state],
	}
}

// eventFlowTo returns the Flow and To of the event in slot i.
func (m *MemorySink) eventFlowTo(i int32) (flow, to string) {
	sl := m.slot(i)
	if sl.shape == bigShape {
		e := m.big[i]
		return e.Flow, e.To
	}
	s := &m.shapes[sl.shape]
	return m.strs[s.flow], m.strs[s.to]
}

// Emit implements Sink.
func (m *MemorySink) Emit(_ context.Context, e Event) error {
	m.mu.Lock()
	if int(m.used) == len(m.chunks)*memChunk {
		m.chunks = append(m.chunks, make([]memSlot, memChunk))
	}
	r, ok := m.lastRun, m.lastID == e.RunID && m.lastID != ""
	if !ok {
		r, ok = m.index[e.RunID]
	}
	// The run's previous event is the best guess for this one: same
	// snapshot, and its shape tells which shape followed it last time.
	prevShape, prevState, prevErr := uint32(noShape), uint32(0), uint32(0)
	if ok {
		if p := m.slot(m.runs[r].last); p.shape != bigShape {
			prevShape, prevState, prevErr = p.shape, p.state, p.err
		}
	}
	i := m.used
	sl := m.slot(i)
	loc, fits := m.zone(e.Time)
	if fits = fits && e.Seq <= math.MaxUint32 && e.Attempt >= math.MinInt32 && e.Attempt <= math.MaxInt32; fits {
		*sl = memSlot{
			nanos:   e.Time.UnixNano(),
			seq:     uint32(e.Seq),
			next:    -1,
			shape:   m.shapeOf(&e, loc, prevShape),
			state:   m.internState(e.State, prevState),
			err:     m.intern(e.Error, prevErr),
			attempt: int32(e.Attempt),
		}
	} else {
		if m.big == nil {
			m.big = make(map[int32]Event)
		}
		m.big[i] = e
		*sl = memSlot{next: -1, shape: bigShape}
	}
	m.used++
	if !ok {
		r = int32(len(m.runs))
		m.index[e.RunID] = r
		m.runs = append(m.runs, memRun{id: e.RunID, first: i, last: i, n: 1})
	} else {
		run := &m.runs[r]
		m.slot(run.last).next = i
		run.last = i
		run.n++
	}
	m.lastID, m.lastRun = m.runs[r].id, r
	m.mu.Unlock()
	return nil
}

// History returns a copy of the events of runID, in order (nil if unknown).
func (m *MemorySink) History(runID string) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.index[runID]
	if !ok {
		return nil
	}
	run := &m.runs[r]
	out := make([]Event, 0, run.n)
	for i := run.first; i >= 0; i = m.slot(i).next {
		out = append(out, m.event(run, i))
	}
	return out
}

// Reset forgets every run, for long-lived processes that only need recent
// histories (and benchmarks). The sink keeps its event storage for the
// events to come, as bytes.Buffer.Reset does: it holds no pointers, so it
// keeps nothing else alive.
func (m *MemorySink) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.index)
	clear(m.runs)
	m.runs, m.used, m.lastID = m.runs[:0], 0, ""
	m.resetTables()
}

// Runs returns the IDs of all runs seen, in order of their first event.
func (m *MemorySink) Runs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, len(m.runs))
	for i, r := range m.runs {
		ids[i] = r.id
	}
	return ids
}

// LoadHistory implements HistoryLoader.
func (m *MemorySink) LoadHistory(_ context.Context, runID string) ([]Event, error) {
	if h := m.History(runID); h != nil {
		return h, nil
	}
	return nil, ErrUnknownRun
}

type jsonSink struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewJSONSink returns a Sink writing one JSON object per line to w (the
// Event JSON form). A write error stops the run.
func NewJSONSink(w io.Writer) Sink { return &jsonSink{enc: json.NewEncoder(w)} }

func (s *jsonSink) Emit(_ context.Context, e Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enc.Encode(&e)
}

type slogSink struct{ l *slog.Logger }

// NewSlogSink returns a Sink logging each event as one record, at Info, or at
// Warn when the event carries an error.
func NewSlogSink(l *slog.Logger) Sink { return slogSink{l} }

func (s slogSink) Emit(ctx context.Context, e Event) error {
	level := slog.LevelInfo
	if e.Error != "" {
		level = slog.LevelWarn
	}
	if !s.l.Enabled(ctx, level) {
		return nil
	}
	attrs := []slog.Attr{
		slog.String("run_id", e.RunID),
		slog.Uint64("seq", e.Seq),
		slog.String("flow", e.Flow),
		slog.String("step", e.Step),
		slog.String("from", e.From),
		slog.String("to", e.To),
	}
	if e.Attempt != 0 {
		attrs = append(attrs, slog.Int("attempt", e.Attempt))
	}
	if e.Outcome != "" {
		attrs = append(attrs, slog.String("outcome", e.Outcome))
	}
	if e.Error != "" {
		attrs = append(attrs, slog.String("error", e.Error))
	}
	if len(e.State) > 0 {
		attrs = append(attrs, slog.String("state", string(e.State)))
	}
	s.l.LogAttrs(ctx, level, "flow transition", attrs...)
	return nil
}

type fanOut []Sink

// FanOut returns a Sink that hands each event to every sink in order, even
// when one fails, and returns their errors joined. It loads histories from
// the first sink that can.
func FanOut(sinks ...Sink) Sink { return fanOut(slices.Clone(sinks)) }

func (f fanOut) Emit(ctx context.Context, e Event) error {
	var errs []error
	for _, s := range f {
		if err := s.Emit(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f fanOut) LoadHistory(ctx context.Context, runID string) ([]Event, error) {
	for _, s := range f {
		if l, ok := s.(HistoryLoader); ok {
			return l.LoadHistory(ctx, runID)
		}
	}
	return nil, ErrUnknownRun
}
