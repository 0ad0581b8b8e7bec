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
// run's end is in the store, where any reader sees it, until the test has
// started the next run: the moment a client that reads the end starts
// another.
type endGate struct {
	*store.Memory
	ended chan string   // a run's final event is in the store
	next  chan struct{} // the test tried its next start
	done  chan struct{} // the test is over: hold no more
}

func (s *endGate) Emit(ctx context.Context, e runtime.Event) error {
	if err := s.Memory.Emit(ctx, e); err != nil {
		return err
	}
	if runtime.RunState(e.To).Terminal() {
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
	t.Helper()
	st := &endGate{Memory: store.NewMemory(), ended: make(chan string), next: make(chan struct{}), done: make(chan struct{})}
	e, err := New(Options{Store: st, MaxRunning: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	t.Cleanup(func() { close(st.done) }) // first: the last run ends, then Close
	if ds, err := e.LoadFlows("hello.json", []byte(helloFlow)); err != nil {
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
	ctx := context.Background()
	const n = 300
	busy := 0
	if _, err := e.StartRun(ctx, "Hello", nil, ""); err != nil {
		t.Fatal(err)
	}
	for range n {
		id := <-st.ended
		if s, err := e.Status(ctx, id); err != nil || !s.State.Terminal() {
			t.Fatalf("run %s: %v %v, want a terminal state", id, s.State, err)
		}
		_, err := e.StartRun(ctx, "Hello", nil, "")
		if errors.Is(err, ErrBusy) {
			busy++
		} else if err != nil {
			t.Fatal(err)
		}
		st.next <- struct{}{}
		if err != nil { // start again once the slot is back, to go on
			waitFor(t, "the slot given back", func() bool { return e.Stats().Running == 0 })
			if _, err := e.StartRun(ctx, "Hello", nil, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	if busy > 0 {
		t.Errorf("%d of %d starts after the run before read terminal were refused as busy", busy, n)
	}
}

// The same over HTTP: a POST start right after GET /runs/{id} answered a
// terminal state is not answered 429.
func TestEndedRunFreesItsSlotHTTP(t *testing.T) {
	e, st := gatedEngine(t)
	srv := httptestServer(t, e)
	start := func() int {
		status, _, body := send(t, srv, "POST", "/flows/Hello/runs", "", "application/json", `{}`)
		if status != http.StatusCreated && status != http.StatusTooManyRequests {
			t.Fatalf("start: %d %s", status, body)
		}
		return status
	}
	const n = 100
	busy := 0
	start()
	for range n {
		id := <-st.ended
		status, _, body := send(t, srv, "GET", "/runs/"+id, "", "", "")
		var s struct {
			State runtime.RunState `json:"state"`
		}
		if err := json.Unmarshal([]byte(body), &s); status != http.StatusOK || err != nil || !s.State.Terminal() {
			t.Fatalf("GET /runs/%s: %d %s, want a terminal state", id, status, body)
		}
		status = start()
		st.next <- struct{}{}
		if status == http.StatusTooManyRequests {
			busy++
			waitFor(t, "the slot given back", func() bool { return e.Stats().Running == 0 })
			start()
		}
	}
	if busy > 0 {
		t.Errorf("%d of %d starts after GET /runs/{id} read terminal were answered 429", busy, n)
	}
}
