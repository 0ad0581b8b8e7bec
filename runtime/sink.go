package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
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
// finished runs in a process without a store. Events of all runs share
// chunked storage, linked per run, so recording a run allocates nothing but
// the occasional chunk.
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
}

type memRun struct {
	id          string
	first, last int32 // slot numbers
	n           int32
}

type memSlot struct {
	e    Event
	next int32 // next slot of the same run, -1 at the end
}

const memChunk = 128 // 24 KiB: a small-object size class, no large-object churn

// NewMemorySink returns an empty MemorySink.
func NewMemorySink() *MemorySink { return &MemorySink{index: make(map[string]int32)} }

func (m *MemorySink) slot(i int32) *memSlot { return &m.chunks[i/memChunk][i%memChunk] }

// Emit implements Sink.
func (m *MemorySink) Emit(_ context.Context, e Event) error {
	m.mu.Lock()
	if int(m.used) == len(m.chunks)*memChunk {
		m.chunks = append(m.chunks, make([]memSlot, memChunk))
	}
	i := m.used
	m.used++
	sl := m.slot(i)
	sl.e, sl.next = e, -1
	r, ok := m.lastRun, m.lastID == e.RunID && m.lastID != ""
	if !ok {
		r, ok = m.index[e.RunID]
	}
	m.lastID, m.lastRun = e.RunID, r
	if !ok {
		r = int32(len(m.runs))
		m.index[e.RunID] = r
		m.lastRun = r
		m.runs = append(m.runs, memRun{id: e.RunID, first: i, last: i, n: 1})
	} else {
		run := &m.runs[r]
		m.slot(run.last).next = i
		run.last = i
		run.n++
	}
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
	run := m.runs[r]
	out := make([]Event, 0, run.n)
	for i := run.first; i >= 0; i = m.slot(i).next {
		out = append(out, m.slot(i).e)
	}
	return out
}

// Reset forgets every run, for long-lived processes that only need recent
// histories (and benchmarks).
func (m *MemorySink) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.index)
	m.runs, m.chunks, m.used, m.lastID = m.runs[:0], nil, 0, ""
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
