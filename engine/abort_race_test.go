package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// heldAt is a memory store that holds the recording of the run's first
// event into machine state to (its goroutine waits in Emit, the event not
// yet stored) until free is called, and counts the abort requests it
// records.
type heldAt struct {
	*store.Memory
	to        string
	once      sync.Once
	held      chan struct{} // closed once the run waits in Emit
	free      func()        // lets the run go on, once
	freed     chan struct{}
	requested atomic.Int32
}

func newHeldAt(to string) *heldAt {
	s := &heldAt{Memory: store.NewMemory(), to: to, held: make(chan struct{}), freed: make(chan struct{})}
	var once sync.Once
	s.free = func() { once.Do(func() { close(s.freed) }) }
	return s
}

func (s *heldAt) Emit(ctx context.Context, e runtime.Event) error {
	if e.To == s.to {
		s.once.Do(func() { close(s.held); <-s.freed })
	}
	return s.Memory.Emit(ctx, e)
}

func (s *heldAt) RequestAbort(ctx context.Context, runID string) error {
	err := s.Memory.RequestAbort(ctx, runID)
	if err == nil {
		s.requested.Add(1)
	}
	return err
}

const abortRaceFlows = `{"version": 1, "flows": [{"name": "Race", "state": "RaceState",
  "steps": [
    {"name": "Reserve", "action": {"kind": "go"}, "rollback": {"name": "Release"}},
    {"name": "Break", "action": {"kind": "go"}, "irreversible": true}]}]}`

// startRace starts a run of abortRaceFlows on an engine over st, whose
// step Break returns breakErr, and returns once st holds the run's event
// into st.to, the run still running in the store.
func startRace(t *testing.T, st *heldAt, breakErr error) (*Engine, string) {
	t.Helper()
	return startRaceOn(t, st, st, breakErr)
}

// startRaceOn is startRace on an engine over es, which stores in st.
func startRaceOn(t *testing.T, es Store, st *heldAt, breakErr error) (*Engine, string) {
	t.Helper()
	e, err := New(Options{Store: es})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	t.Cleanup(st.free) // before the engine closes (cleanups run last first), should the test stop early
	e.Registry().Step("Reserve", func(context.Context, *State) (string, error) { return "", nil })
	e.Registry().Rollback("Release", func(context.Context, *State) error { return nil })
	e.Registry().Step("Break", func(context.Context, *State) (string, error) { return "", breakErr })
	if ds, err := e.LoadFlows("race.json", []byte(abortRaceFlows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	id, err := e.StartRun(context.Background(), "Race", []byte(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	<-st.held
	if info, _ := st.Get(id); info.State != runtime.StateRunning {
		t.Fatalf("the run is %s while its event into %s is held, want running", info.State, st.to)
	}
	return e, id
}

// ranOut waits for run id to end in st and returns its final state.
func ranOut(t *testing.T, st *heldAt, id string) runtime.RunState {
	var final runtime.RunState
	waitFor(t, "the run over", func() bool {
		info, _ := st.Get(id)
		final = info.State
		return final.Terminal()
	})
	return final
}

// An abort that comes as the run enters its rollback after a failure (the
// "-> failing" event on its way to the store) is answered as the run then
// does: 202 and the run ends aborted, or 409 (rolling back) and nothing
// is recorded, the run ending compensated. The abort was answered 202, its
// request recorded, and the run rolled back after its failure and ended
// compensated: the 202 promised an abort that did not happen.
func TestAbortRacingRollbackEntry(t *testing.T) {
	st := newHeldAt(runtime.MachineFailing)
	e, id := startRace(t, st, runtime.Permanent(errors.New("broken")))
	abortErr := e.Abort(context.Background(), id)
	requested := st.requested.Load() != 0
	st.free()
	final := ranOut(t, st, id)
	switch {
	case abortErr == nil && final != runtime.StateAborted:
		t.Errorf("the abort was answered 202 and the run ended %s, not aborted", final)
	case abortErr != nil && !errors.Is(abortErr, ErrConflict):
		t.Errorf("the abort: %v, want 202 or a conflict (409)", abortErr)
	case abortErr != nil && requested:
		t.Errorf("the abort was refused (%v) and its request recorded all the same", abortErr)
	case abortErr != nil && final != runtime.StateCompensated:
		t.Errorf("the abort was refused (%v) and the run ended %s, want compensated", abortErr, final)
	}
	t.Logf("abort: %v; the run ended %s", abortErr, final)
}

// An abort that comes as the run records its end ("-> done" on its way to
// the store, its last step done) is answered as the run then does: 202
// and the run ends aborted, or 409 and nothing is recorded, the run
// ending done. It was answered 202 (its request recorded, the run's
// context cancelled too late to matter) and the run ended done; or, had
// the run ended before the abort looked, 409 with the request recorded
// all the same.
func TestAbortRacingRunEnd(t *testing.T) {
	st := newHeldAt(string(runtime.StateDone))
	e, id := startRace(t, st, nil)
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	status, out := c.do("POST", "/runs/"+id+"/abort", "")
	requested := st.requested.Load()
	st.free()
	final := ranOut(t, st, id)
	switch {
	case status == http.StatusAccepted && final != runtime.StateAborted:
		t.Errorf("the abort was answered 202 and the run ended %s, not aborted", final)
	case status != http.StatusAccepted && status != http.StatusConflict:
		t.Errorf("the abort: %d %v, want 202 or 409", status, out)
	case status == http.StatusConflict && requested != 0:
		t.Errorf("the abort was refused (%v) and its request recorded all the same", out)
	case status == http.StatusConflict && final != runtime.StateDone:
		t.Errorf("the abort was refused (%v) and the run ended %s, want done", out, final)
	}
	t.Logf("abort: %d %v; the run ended %s", status, out, final)
}

// endsAtGet is heldAt whose Get, once armed, answers what the store holds
// (the run still running, its "-> done" held), then lets the run record
// its end and waits until the engine has let go of it: the run ends
// between the abort's look at the store and its look for the live run.
type endsAtGet struct {
	*heldAt
	armed atomic.Bool
	gone  func() bool
}

func (s *endsAtGet) Get(runID string) (store.RunInfo, bool) {
	info, ok := s.heldAt.Get(runID)
	if s.armed.CompareAndSwap(true, false) {
		s.free()
		for !s.gone() {
			goruntime.Gosched()
		}
	}
	return info, ok
}

// An abort that looked at the run running, the run then ending done and
// leaving the engine before the abort looks for it live, is refused as
// finished (409), recording nothing: the abort went on to resume the run,
// found its history ended, and answered 202 for a run that ended done
// (or, the run's lock not yet let go of, 409 as driven by another engine).
func TestAbortOfARunThatEndsMeanwhileIsRefused(t *testing.T) {
	st := &endsAtGet{heldAt: newHeldAt(string(runtime.StateDone))}
	e, id := startRaceOn(t, st, st.heldAt, nil)
	st.gone = func() bool { return e.liveOf(id) == nil }
	st.armed.Store(true)
	abortErr := e.Abort(context.Background(), id)
	final := ranOut(t, st.heldAt, id)
	if final != runtime.StateDone {
		t.Fatalf("the run ended %s, want done", final)
	}
	if !errors.Is(abortErr, runtime.ErrFinished) {
		t.Errorf("the abort of a run that ended done meanwhile: %v, want an error wrapping runtime.ErrFinished (409)", abortErr)
	}
	if n := st.requested.Load(); n != 0 {
		t.Errorf("%d abort requests recorded for a run that ended done", n)
	}
}
