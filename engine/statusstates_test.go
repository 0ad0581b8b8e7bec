package engine

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// statesRead is a store that counts the events it gives with their state.
type statesRead struct {
	*store.Store
	n *atomic.Int64
}

func (s statesRead) count(h []runtime.Event) {
	for _, ev := range h {
		if len(ev.State) > 0 {
			s.n.Add(1)
		}
	}
}

func (s statesRead) Load(runID string) ([]runtime.Event, error) {
	h, err := s.Store.Load(runID)
	s.count(h)
	return h, err
}

func (s statesRead) LoadPage(runID string, after uint64, limit, maxBytes int, states bool) ([]runtime.Event, bool, error) {
	h, more, err := s.Store.LoadPage(runID, after, limit, maxBytes, states)
	s.count(h)
	return h, more, err
}

// GET /runs/{id} and GET /runs/{id}/diagram read a run's history without
// its states but the snapshot's (the last event's that has one), a page at
// a time as GET /runs/{id}/history reads it: a long run's states are most
// of its history (25,000 events, each with a state of up to megabytes),
// and each request, which the web view makes at each of the run's events,
// read every one of them. The status is the whole history's Replay.
func TestStatusReadsOneState(t *testing.T) {
	h := pollHistory("poll-1", 2500)
	read := statesRead{storeOf(t, h), new(atomic.Int64)}
	e, err := New(Options{Store: read})
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()

	status, body := c.do("GET", "/runs/poll-1", "")
	if status != 200 {
		t.Fatalf("GET /runs/poll-1: %d %v", status, body)
	}
	if n := read.n.Load(); n != 1 {
		t.Errorf("GET /runs/poll-1 read %d events with their states, want 1 (the snapshot's)", n)
	}
	replayed, err := runtime.Replay(h)
	if err != nil {
		t.Fatal(err)
	}
	replayed.History = nil
	want, _ := json.Marshal(RunStatus{Status: replayed})
	var wantBody map[string]any
	_ = json.Unmarshal(want, &wantBody)
	got, _ := json.Marshal(body)
	if want, _ := json.Marshal(wantBody); string(got) != string(want) {
		t.Errorf("GET /runs/poll-1:\n%s\nwant the whole history's Replay:\n%s", got, want)
	}

	read.n.Store(0)
	c.do("GET", "/runs/poll-1/diagram", "") // no flow Poll here: 404, once the history is read
	if n := read.n.Load(); n > 1 {
		t.Errorf("GET /runs/poll-1/diagram read %d events with their states, want at most 1", n)
	}
}

// pollHistory is the history of a run of n events that polls: each turn
// runs its step, then waits, each event with the state after it.
func pollHistory(run string, n int) []runtime.Event {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := make([]runtime.Event, 0, n)
	for len(h) < n {
		e := runtime.Event{Step: "Check", From: "Check:waiting", To: "Check:running"}
		switch {
		case len(h) == 0:
			e.From = runtime.MachinePending
		case h[len(h)-1].To == "Check:running":
			e = runtime.Event{Step: "Check", From: "Check:running", To: "Check:waiting", Attempt: 1, Outcome: runtime.OutcomeOK}
		}
		e.RunID, e.Flow, e.Seq, e.Time = run, "Poll", uint64(len(h)+1), t0.Add(time.Duration(len(h))*time.Millisecond)
		e.State = json.RawMessage(fmt.Sprintf(`{"turn":%d}`, len(h)))
		h = append(h, e)
	}
	return h
}
