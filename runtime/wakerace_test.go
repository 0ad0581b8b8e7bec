package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Races between the ways a run's wait, or its life, ends: each test forces
// one interleaving, or runs many with the scheduler shuffling them, and
// checks that exactly one outcome is recorded and nobody waits forever.

// OnEnd asked while the run is ending (it is over, its end not yet handed
// out) still gets the end. A parent's AttachChild does exactly that when it
// finds its child live as the child ends (the engine's runs stay live until
// WithRunEnded's hook, which runs in that window); a lost end left the
// parent waiting for its child forever. The hook holds the run in the
// window while OnEnd is called.
func TestOnEndWhileEnding(t *testing.T) {
	inHook, cont := make(chan struct{}), make(chan struct{})
	f := runtime.New[state]("F", runtime.WithRunEnded(func(string, runtime.RunState, error) {
		close(inHook)
		<-cont
	}))
	mustRegister(t, f, okStep(newRecorder(), "A"))
	r, err := f.Start(context.Background(), state{})
	if err != nil {
		t.Fatal(err)
	}
	<-inHook
	got := make(chan runtime.RunEnd, 1)
	r.OnEnd(func(e runtime.RunEnd) { got <- e })
	close(cont)
	select {
	case e := <-got:
		if e.Final != runtime.StateDone || e.Err != nil {
			t.Errorf("OnEnd got %s (%v), want done", e.Final, e.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnEnd asked as the run ended was never called")
	}
}
