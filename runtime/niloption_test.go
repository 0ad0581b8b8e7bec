package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// TestNilOptionsAreSkipped passes a nil option of each kind (a flow's, a
// run's, a step's to every step constructor) among others: each is
// skipped, as a caller that builds its options conditionally expects, and
// the options beside it still apply.
func TestNilOptionsAreSkipped(t *testing.T) {
	sink := runtime.NewMemorySink()
	f := runtime.New[state]("nil-options", nil, runtime.WithSink(sink), nil)
	var noStep runtime.StepOption[state]
	a := runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { return "", nil },
		noStep, runtime.WithIrreversible[state](), noStep)
	predefined := []*runtime.Step[state]{
		runtime.NewRPC("svc", "Svc.Call", nil, noStep, runtime.WithID[state]("rpc")),
		runtime.NewPublish("topic", "published", nil, noStep, runtime.WithID[state]("pub")),
		runtime.NewAwait[state]("topic", "awaited", nil, nil, time.Second, noStep, runtime.WithID[state]("await")),
		runtime.NewParallel("par", []*runtime.Step[state]{a}, noStep, runtime.WithNext[state](runtime.OutcomeOK, runtime.Done)),
	}
	for i, want := range []string{"rpc", "pub", "await", "par"} {
		if predefined[i].ID != want {
			t.Errorf("step %d: ID %q, want %q: the option after the nil one was not applied", i, predefined[i].ID, want)
		}
	}
	if !a.Irreversible {
		t.Error("NewStep: the option after the nil one was not applied")
	}
	mustRegister(t, f, a)
	res, err := f.Execute(context.Background(), state{}, nil, runtime.WithRunID("r1"), nil)
	if err != nil || res.Final != runtime.StateDone || res.RunID != "r1" {
		t.Fatalf("Execute = %+v, %v; want run r1 done", res, err)
	}
	if len(sink.History("r1")) == 0 {
		t.Error("no history in the sink: the flow option after the nil one was not applied")
	}
}
