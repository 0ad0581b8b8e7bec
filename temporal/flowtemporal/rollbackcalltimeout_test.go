package flowtemporal

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

type held struct{ Hold string }

// rollbackCallDef is flow Keep: Take, undone by a rollback call of flow
// Free (whose only step sleeps an hour) bounded by a rollback timeout of
// 100 ms, then Lose, which fails for good. sink gets the events of both.
func rollbackCallDef(t *testing.T, sink runtime.Sink) (keep *runtime.Flow[held], free *runtime.Flow[held]) {
	t.Helper()
	free = runtime.New[held]("Free", runtime.WithSink(sink))
	must(t, free.Register(runtime.NewSleep[held]("Settle", time.Hour, nil)))
	keep = runtime.New[held]("Keep", runtime.WithSink(sink))
	must(t, keep.Register(
		runtime.NewStep("Take", func(_ context.Context, s *held) (runtime.Outcome, error) {
			s.Hold = "h-1"
			return runtime.OutcomeOK, nil
		}, runtime.WithRollbackCall(free, func(s *held) held { return *s }),
			runtime.WithRollbackTimeout[held](100*time.Millisecond)),
		runtime.NewStep("Lose", func(context.Context, *held) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("no room"))
		}, runtime.WithIrreversible[held]()),
	))
	return keep, free
}

// A rollback call whose child runs past the rollback's timeout fails the
// attempt with the runtime's error, on both executors: the event that
// ends the rollback and the run's error say the same thing to whoever
// reads the run's history or status.
func TestRollbackCallPastItsTimeoutAsOnTheRuntime(t *testing.T) {
	sink := runtime.NewMemorySink()
	keep, _ := rollbackCallDef(t, sink)
	res, _ := keep.Execute(context.Background(), held{})
	if res.Final != runtime.StateCompensationFailed || res.Err == nil {
		t.Fatalf("on the runtime: %s (%v); want compensation_failed", res.Final, res.Err)
	}
	want := rollbackEnd(t, sink.History(res.RunID))

	tkeep, tfree := rollbackCallDef(t, runtime.NewMemorySink())
	free, err := New(tfree)
	must(t, err)
	f, err := New(tkeep, free)
	must(t, err)
	env := newEnv(t)
	f.Register(env)
	env.ExecuteWorkflow(WorkflowName("Keep"), held{})
	wantEnd(t, env, runtime.StateCompensationFailed)
	st := status(t, env)
	if got := rollbackEnd(t, st.History); got.Error != want.Error || got.Attempt != want.Attempt || got.Outcome != want.Outcome {
		t.Errorf("the rollback's end: attempt %d, outcome %q, error %q\nwant the runtime's: attempt %d, outcome %q, error %q",
			got.Attempt, got.Outcome, got.Error, want.Attempt, want.Outcome, want.Error)
	}
	if st.Err != res.Err.Error() {
		t.Errorf("status error %q\nwant the runtime's %q", st.Err, res.Err)
	}
}

// rollbackEnd is the event of h that ends Take's rollback.
func rollbackEnd(t *testing.T, h []runtime.Event) runtime.Event {
	t.Helper()
	for _, e := range h {
		if e.From == runtime.RollbackState("Take") && e.To == runtime.MachineFailing {
			return e
		}
	}
	t.Fatalf("no end of Take's rollback in %q", transitions(h))
	return runtime.Event{}
}
