package runtime

import (
	"context"
	"encoding/json"
	"fmt"
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

// HistoryCounter is implemented by loaders that can count a run's events
// without reading them (MemorySink, durable stores). Resume uses it, when the
// flow's sink has it, to check that the history it is given is still the
// whole of the run's: a cheaper check than loading the history again.
type HistoryCounter interface {
	HistoryLen(ctx context.Context, runID string) (int, error)
}

// AbortRecorder is implemented by durable sinks that keep abort requests
// (runtime/store's Store and Memory). A run records its abort
// ("-> aborting") itself, and only once its step in flight returns or, when
// it waits for a call's child, once the child has rolled back and ended: a
// crash before then would lose the abort. With such a sink Run.Abort first
// records the request (RequestAbort, durable when it returns), and Resume
// of a run whose request is pending (AbortRequested) resumes it aborted, so
// the run ends aborted whatever the crash interrupted. The sink forgets a
// request once the run is over.
type AbortRecorder interface {
	// RequestAbort records that runID is to be aborted. It fails with an
	// error wrapping ErrFinished for a run that is over in the sink, and
	// ErrUnknownRun for one it does not hold, recording nothing.
	RequestAbort(ctx context.Context, runID string) error
	// AbortRequested reports whether runID has a pending request: it is
	// not over, and RequestAbort was called for it.
	AbortRequested(runID string) bool
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, e Event) error

// Emit calls f.
func (f SinkFunc) Emit(ctx context.Context, e Event) error { return f(ctx, e) }

type nopSink struct{}

func (nopSink) Emit(context.Context, Event) error { return nil }

// MemorySink keeps every run's history in memory: for tests, examples, and
// Status of finished runs in a process without a store. It is a plain map of
// histories; Reset forgets them.
type MemorySink struct {
	mu    sync.Mutex
	runs  map[string]*[]Event
	order []string // run IDs in order of their first event
	// emitted is closed by the next Emit, made only while WaitFor waits;
	// resets counts the Resets, after which WaitFor reads from the start.
	emitted chan struct{}
	resets  uint64
}

// NewMemorySink returns an empty MemorySink.
func NewMemorySink() *MemorySink { return &MemorySink{runs: make(map[string]*[]Event)} }

// Emit implements Sink.
func (m *MemorySink) Emit(_ context.Context, e Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.runs[e.RunID]
	switch {
	case ok && e.Seq == 1:
		return fmt.Errorf("%w: %q", ErrDuplicateRun, e.RunID)
	case !ok:
		h = new([]Event)
		*h = make([]Event, 0, 16) // room for a typical run, grown as any slice
		m.runs[e.RunID] = h
		m.order = append(m.order, e.RunID)
	}
	*h = append(*h, e)
	if m.emitted != nil {
		close(m.emitted)
		m.emitted = nil
	}
	return nil
}

// WaitFor waits until runID's history has an event for which match
// returns true (one recorded before the call counts too) and returns the
// first, or until ctx ends (its error). A test waits with it for the
// event a run records before it arms a timer (the retry before a backoff,
// the wait of an await), then advances its FakeClock, instead of polling
// History. match is called with no lock held by the sink.
func (m *MemorySink) WaitFor(ctx context.Context, runID string, match func(Event) bool) (Event, error) {
	next, resets := 0, uint64(0)
	for {
		m.mu.Lock()
		if m.resets != resets {
			next, resets = 0, m.resets
		}
		var events []Event
		if h := m.runs[runID]; h != nil && next < len(*h) {
			events = slices.Clone((*h)[next:])
		}
		if m.emitted == nil {
			m.emitted = make(chan struct{})
		}
		emitted := m.emitted
		m.mu.Unlock()
		for _, e := range events {
			if match(e) {
				return e, nil
			}
		}
		next += len(events)
		select {
		case <-emitted:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// History returns a copy of the events of runID, in order (nil if unknown).
func (m *MemorySink) History(runID string) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.runs[runID]; h != nil {
		return slices.Clone(*h)
	}
	return nil
}

// Reset forgets every run, for long-lived processes that only need recent
// histories (and benchmarks).
func (m *MemorySink) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.runs)
	m.order = m.order[:0]
	m.resets++
}

// Runs returns the IDs of all runs seen, in order of their first event.
func (m *MemorySink) Runs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.order)
}

// LoadHistory implements HistoryLoader.
func (m *MemorySink) LoadHistory(_ context.Context, runID string) ([]Event, error) {
	if h := m.History(runID); h != nil {
		return h, nil
	}
	return nil, ErrUnknownRun
}

// HistoryLen implements HistoryCounter.
func (m *MemorySink) HistoryLen(_ context.Context, runID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.runs[runID]; h != nil {
		return len(*h), nil
	}
	return 0, ErrUnknownRun
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
	if e.Branch != "" {
		attrs = append(attrs, slog.String("branch", e.Branch))
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

// FanOut returns a Sink that hands each event to its sinks in order, up to
// the first that refuses it, and returns that sink's error: a sink never
// sees an event a sink before it refused, which the run did not record
// (the first event of a duplicate run ID, an event a failed store could
// not write). Put the sink that keeps the histories first, so that the
// others see only what it accepted. It loads histories from
// the first sink that can, and only then is a HistoryLoader: a fan-out of
// sinks that cannot (a JSON and a slog sink) must not claim to, or the
// runtime would read its runs back from nowhere (Status of a live run, the
// wake-up of a hibernated wait). When that sink keeps abort requests
// (AbortRecorder), so does the fan-out, in it: the store that holds the
// runs' histories holds their requests.
func FanOut(sinks ...Sink) Sink {
	f := fanOut(slices.Clone(sinks))
	for _, s := range f {
		if l, ok := s.(HistoryLoader); ok {
			fl := fanOutLoader{fanOut: f, loader: l}
			if a, ok := s.(AbortRecorder); ok {
				return fanOutAborts{fanOutLoader: fl, AbortRecorder: a}
			}
			return fl
		}
	}
	return f
}

func (f fanOut) Emit(ctx context.Context, e Event) error {
	for _, s := range f {
		if err := s.Emit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// fanOutLoader is a fan-out one of whose sinks, loader, loads histories.
type fanOutLoader struct {
	fanOut
	loader HistoryLoader
}

func (f fanOutLoader) LoadHistory(ctx context.Context, runID string) ([]Event, error) {
	return f.loader.LoadHistory(ctx, runID)
}

// HistoryLen counts in the sink LoadHistory reads from.
func (f fanOutLoader) HistoryLen(ctx context.Context, runID string) (int, error) {
	if c, ok := f.loader.(HistoryCounter); ok {
		return c.HistoryLen(ctx, runID)
	}
	h, err := f.loader.LoadHistory(ctx, runID)
	return len(h), err
}

// fanOutAborts is a fan-out whose loader keeps abort requests too.
type fanOutAborts struct {
	fanOutLoader
	AbortRecorder
}
