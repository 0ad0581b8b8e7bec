package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// endGate is a memory store that holds each run's goroutine once the
// run's end (or, with holds, another event) is in the store, where any
// reader sees it, until the test has started the next run: the moment a
// client that reads the end starts another.
type endGate struct {
	*store.Memory
	holds func(*runtime.Event) bool // nil: a run's final event
	ended chan string               // a run's held event is in the store
	next  chan struct{}             // the test tried its next start
	done  chan struct{}             // the test is over: hold no more
}

func (s *endGate) Emit(ctx context.Context, e runtime.Event) error {
	if err := s.Memory.Emit(ctx, e); err != nil {
		return err
	}
	if s.holds == nil && runtime.RunState(e.To).Terminal() || s.holds != nil && s.holds(&e) {
		select {
		case s.ended <- e.RunID:
			<-s.next
		case <-s.done:
		}
	}
	return nil
}

// gatedEngine is an engine with MaxRunning 1 on an endGate, defining
// Hello (one publish step).
func gatedEngine(t *testing.T) (*Engine, *endGate) {
	return gatedEngineOf(t, nil, helloFlow)
}

// gatedEngineOf is an engine with MaxRunning 1 on an endGate that holds
// the events holds picks (nil: the ends), defining flows.
func gatedEngineOf(t *testing.T, holds func(*runtime.Event) bool, flows string) (*Engine, *endGate) {
	t.Helper()
	st := &endGate{Memory: store.NewMemory(), holds: holds, ended: make(chan string), next: make(chan struct{}), done: make(chan struct{})}
	e, err := New(Options{Store: st, MaxRunning: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	t.Cleanup(func() { close(st.done) }) // first: the last run ends, then Close
	if ds, err := e.LoadFlows("flows.json", []byte(flows)); err != nil {
		t.Fatal(err, ds)
	}
	return e, st
}

// A run whose end can be seen holds no slot of the runs in flight
// (docs/engine.md#limits): with MaxRunning 1, a client that starts a run,
// reads its status until it is terminal, then starts the next, is never
// refused as busy. The slot was given back only after the run's end was
// in the store, and such a start was refused (ErrBusy) whenever it came
// before the run's goroutine got there.
func TestEndedRunFreesItsSlot(t *testing.T) {
	e, st := gatedEngine(t)
	const n = 300
	if busy, _ := startsAfterReads(t, e, st, "Hello", n, "terminal", runtime.RunState.Terminal); busy > 0 {
		t.Errorf("%d of %d starts after the run before read terminal were refused as busy", busy, n)
	}
}

// The same over HTTP: a POST start right after GET /runs/{id} answered a
// terminal state is not answered 429.
func TestEndedRunFreesItsSlotHTTP(t *testing.T) {
	e, st := gatedEngine(t)
	const n = 100
	if busy := httpStartsAfterReads(t, e, st, "Hello", n, "terminal", runtime.RunState.Terminal); busy > 0 {
		t.Errorf("%d of %d starts after GET /runs/{id} read terminal were answered 429", busy, n)
	}
}

// startsAfterReads is a client of e: it starts a run of flow, then n
// times takes the run st holds, reads its status (which seen must accept,
// else the test fails: want says what it wants), starts the next run and
// lets the held one go. A start refused as busy is counted, and made
// again once the slot is back. It returns the count and the runs started.
func startsAfterReads(t *testing.T, e *Engine, st *endGate, flow string, n int, want string, seen func(runtime.RunState) bool) (busy int, ids []string) {
	t.Helper()
	ctx := context.Background()
	start := func() error {
		id, err := e.StartRun(ctx, flow, nil, "")
		if err == nil {
			ids = append(ids, id)
		} else if !errors.Is(err, ErrBusy) {
			t.Fatal(err)
		}
		return err
	}
	if err := start(); err != nil {
		t.Fatal(err)
	}
	for range n {
		id := <-st.ended
		if s, err := e.Status(ctx, id); err != nil || !seen(s.State) {
			t.Fatalf("run %s: %v %v, want %s", id, s.State, err, want)
		}
		err := start()
		st.next <- struct{}{}
		if err != nil { // start again once the slot is back, to go on
			busy++
			waitFor(t, "the slot given back", func() bool { return e.Stats().Running == 0 })
			if err := start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return busy, ids
}

// httpStartsAfterReads is startsAfterReads over HTTP: POST a start, GET
// /runs/{id}; it returns the starts answered 429.
func httpStartsAfterReads(t *testing.T, e *Engine, st *endGate, flow string, n int, want string, seen func(runtime.RunState) bool) (busy int) {
	t.Helper()
	srv := httptestServer(t, e)
	start := func() int {
		status, _, body := send(t, srv, "POST", "/flows/"+flow+"/runs", "", "application/json", `{}`)
		if status != http.StatusCreated && status != http.StatusTooManyRequests {
			t.Fatalf("start: %d %s", status, body)
		}
		return status
	}
	start()
	for range n {
		id := <-st.ended
		status, _, body := send(t, srv, "GET", "/runs/"+id, "", "", "")
		var s struct {
			State runtime.RunState `json:"state"`
		}
		if err := json.Unmarshal([]byte(body), &s); status != http.StatusOK || err != nil || !seen(s.State) {
			t.Fatalf("GET /runs/%s: %d %s, want %s", id, status, body, want)
		}
		status = start()
		st.next <- struct{}{}
		if status == http.StatusTooManyRequests {
			busy++
			waitFor(t, "the slot given back", func() bool { return e.Stats().Running == 0 })
			start()
		}
	}
	return busy
}
