package store

import (
	"fmt"
	"sort"

	"github.com/flowgen/flowgen/runtime"
)

// A page of a run's history: the events after a seq, at most limit of
// them and, past the first, at most maxBytes of the bytes callers and
// services choose (EventBytes), so that a client can read a history of
// any length (25,000 events of a polling loop, each with a state of up to
// a megabyte) in answers of a bounded size. GET /runs/{id}/history answers
// one (docs/engine.md). Store.LoadPage reads only the page's events from
// the log; Memory.LoadPage and Page cut it from a history in memory (an
// engine.Executor's, read whole where it lives). All three apply the rule
// of page. Without states (states false) a page's events come without
// their State, which then weighs nothing: a client that reads a timeline
// and fetches one event's state when asked (the web view) gets more
// events in a page of the same bound, which still counts what it is sent,
// the payloads and errors.

// EventBytes is what an event weighs against a page's maxBytes: its state,
// its payload and its error, the parts whose size callers and services
// decide (the rest of an event is a few names and numbers).
func EventBytes(e *runtime.Event) int { return len(e.State) + len(e.Payload) + len(e.Error) }

// page reads the page of n events, the i-th by at(i), in order: the rule
// of pageOf, each event weighed by EventBytes. Without states, each
// event's State is dropped before it is weighed: only what the page holds
// counts.
func page(n int, at func(i int) (runtime.Event, error), limit, maxBytes int, states bool) (events []runtime.Event, more bool, err error) {
	read := func(i int) (runtime.Event, error) {
		e, err := at(i)
		if !states {
			e.State = nil
		}
		return e, err
	}
	return pageOf(n, read, limit, maxBytes, EventBytes)
}

// pageOf is the rule of every page of a list whose items callers and
// services size (a history's events, the inbox's dead letters): it reads
// the n items, the i-th by at(i), in order, at most limit of them, and
// stops before an item that would take the page's bytes (weigh) past
// maxBytes, unless it is the first (a page holds at least one item, so
// that it moves on). more reports whether items were left out.
func pageOf[T any](n int, at func(i int) (T, error), limit, maxBytes int, weigh func(*T) int) (items []T, more bool, err error) {
	if limit < 1 {
		return nil, false, fmt.Errorf("store: a page of %d items", limit)
	}
	out, size := make([]T, 0, min(n, limit)), 0
	for i := range n {
		if len(out) == limit {
			return out, true, nil
		}
		x, err := at(i)
		if err != nil {
			return nil, false, err
		}
		if b := weigh(&x); len(out) == 0 || size+b <= maxBytes {
			out, size = append(out, x), size+b
			continue
		}
		return out, true, nil
	}
	return out, false, nil
}

// Page is the page of history h (a run's events in order of seq) after
// seq after: the rule of Store.LoadPage, for a history read whole.
func Page(h []runtime.Event, after uint64, limit, maxBytes int, states bool) ([]runtime.Event, bool, error) {
	h = h[sort.Search(len(h), func(i int) bool { return h[i].Seq > after }):]
	return page(len(h), func(i int) (runtime.Event, error) { return h[i], nil }, limit, maxBytes, states)
}

// LoadPage returns the page of runID's history after seq after (0: from
// its first event), reading from the log only the events it holds, and
// whether more events follow it now, each with its State unless states
// is false. A seq past the history's end answers no events: the run has
// not recorded them yet.
func (s *Store) LoadPage(runID string, after uint64, limit, maxBytes int, states bool) ([]runtime.Event, bool, error) {
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	pos, err := s.positions(runID)
	if err != nil {
		return nil, false, err
	}
	// The index took each event at seq len+1 (index.check): the event of
	// seq after+1 is at position after.
	pos = pos[min(after, uint64(len(pos))):]
	return page(len(pos), func(i int) (runtime.Event, error) { return s.readEvent(pos[i]) }, limit, maxBytes, states)
}

// LoadPage is Store.LoadPage, from memory.
func (m *Memory) LoadPage(runID string, after uint64, limit, maxBytes int, states bool) ([]runtime.Event, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.idx.runs[runID]
	if !ok {
		return nil, false, fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
	}
	return Page(m.events[i], after, limit, maxBytes, states)
}
