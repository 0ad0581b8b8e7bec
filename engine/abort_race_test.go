package engine

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// entryHeld is a memory store that holds the recording of the run's first
// event into failing (its goroutine waits in Emit, the event not yet
// stored) until the test closes free: the run has failed for good and
// entered its rollback, and its status still says running.
type entryHeld struct {
	*store.Memory
	once sync.Once
	held chan struct{} // closed once the run waits in Emit
	free chan struct{}
}

func (s *entryHeld) Emit(ctx context.Context, e runtime.Event) error {
	if e.To == runtime.MachineFailing {
		s.once.Do(func() { close(s.held); <-s.free })
	}
	return s.Memory.Emit(ctx, e)
}

const abortRaceFlows = `{"version": 1, "flows": [{"name": "Race", "state": "RaceState",
  "steps": [
    {"name": "Reserve", "action": {"kind": "go"}, "rollback": {"name": "Release"}},
    {"name": "Break", "action": {"kind": "go"}, "irreversible": true}]}]}`

// An abort that comes as the run enters its rollback after a failure (the
// "-> failing" event on its way to the store) is answered as the run then
// does: 202 and the run ends aborted, or 409 (rolling back) and nothing
// is recorded, the run ending compensated. The abort was answered 202, its
// request recorded, and the run rolled back after its failure and ended
// compensated: the 202 promised an abort that did not happen.
func TestAbortRacingRollbackEntry(t *testing.T) {
	st := &entryHeld{Memory: store.NewMemory(), held: make(chan struct{}), free: make(chan struct{})}
	var freeOnce sync.Once
	free := func() { freeOnce.Do(func() { close(st.free) }) }
	t.Cleanup(free) // before the engine closes, should the test stop early
	e, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	e.Registry().Step("Reserve", func(context.Context, *State) (string, error) { return "", nil })
	e.Registry().Rollback("Release", func(context.Context, *State) error { return nil })
	e.Registry().Step("Break", func(context.Context, *State) (string, error) {
		return "", runtime.Permanent(errors.New("broken"))
	})
	if ds, err := e.LoadFlows("race.json", []byte(abortRaceFlows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	id, err := e.StartRun(context.Background(), "Race", []byte(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	<-st.held
	if info, _ := st.Get(id); info.State != runtime.StateRunning {
		t.Fatalf("the run is %s while its rollback entry is held, want running", info.State)
	}
	abortErr := e.Abort(context.Background(), id)
	requested := st.AbortRequested(id)
	free()
	var final runtime.RunState
	waitFor(t, "the run over", func() bool {
		info, _ := st.Get(id)
		final = info.State
		return final.Terminal()
	})
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
