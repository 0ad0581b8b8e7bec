package engine

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// loadGate is a store whose Load of one run waits until released, so that
// the engine's resume of that run holds the run's lock meanwhile.
type loadGate struct {
	*store.Memory
	id      string
	loading chan struct{} // closed when a Load of id starts
	release chan struct{}
	once    sync.Once
}

func (s *loadGate) Load(id string) ([]runtime.Event, error) {
	if id == s.id {
		s.once.Do(func() { close(s.loading) })
		<-s.release
	}
	return s.Memory.Load(id)
}

// An abort that comes while this engine resumes the run after a restart
// (its lock held by the resume) waits for the run rather than answer that
// another engine drives it, and the run ends aborted.
func TestAbortWhileResuming(t *testing.T) {
	mem := store.NewMemory()
	effects := &ledger{}
	opts := Options{Store: mem, Clock: runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	e := startGenEngine(t, opts, effects, time.Hour)
	id := startOrder(t, e, "o-1")
	waitParked(t, e, id)
	closeEngine(t, e)

	gate := &loadGate{Memory: mem, id: id, loading: make(chan struct{}), release: make(chan struct{})}
	opts.Store = gate
	e = startGenEngine(t, opts, effects, time.Hour)
	defer closeEngine(t, e)
	<-gate.loading // the resume holds the run's lock
	aborted := make(chan error, 1)
	go func() { aborted <- e.Abort(context.Background(), id) }()
	time.Sleep(20 * time.Millisecond) // let the abort find the lock held, if it looks
	close(gate.release)
	if err := <-aborted; err != nil {
		t.Fatalf("Abort during the resume: %v", err)
	}
	waitFor(t, "run aborted", func() bool { i, _ := mem.Get(id); return i.State == runtime.StateAborted })
}

// A run another engine sharing the store drives is a conflict for this
// one's API, not a server error.
func TestDrivenElsewhereIsAConflict(t *testing.T) {
	if got := statusOf(fmt.Errorf("%w: %q", errDriven, "r-1")); got != http.StatusConflict {
		t.Fatalf("status %d, want 409", got)
	}
}
