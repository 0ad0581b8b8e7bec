package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A parent whose sink loads histories resumes after a restart still waiting
// for its child: a child flow whose sink does not load them could not find
// the child then, and would run it again. Register refuses that call (and
// that rollback call) when the flow is built, naming the step and the
// callee; calls whose child flow can be found again are accepted.
func TestCallOfAFlowThatLoadsNoHistories(t *testing.T) {
	noop := func(context.Context, *parentState) (runtime.Outcome, error) { return "", nil }
	forgetful := runtime.New[billing]("Billing") // no WithSink: keeps nothing
	parent := runtime.New[parentState]("Order", runtime.WithSink(runtime.NewMemorySink()))
	err := parent.Register(runtime.NewCall[parentState]("Bill", forgetful, nil, nil))
	if !errors.Is(err, runtime.ErrNotConfigured) || !strings.Contains(err.Error(), `step Bill calls flow "Billing", whose sink does not load histories`) {
		t.Fatalf("call of a flow that loads no histories: %v", err)
	}
	err = parent.Register(runtime.NewStep("Reserve", noop, runtime.WithRollbackCall[parentState](forgetful, nil)))
	if !errors.Is(err, runtime.ErrNotConfigured) || !strings.Contains(err.Error(), `step Reserve rolls back with a call of flow "Billing"`) {
		t.Fatalf("rollback call of a flow that loads no histories: %v", err)
	}

	sink := runtime.NewMemorySink()
	kept := runtime.New[billing]("Billing", runtime.WithSink(sink))
	for name, f := range map[string]*runtime.Flow[parentState]{
		"the same sink":               runtime.New[parentState]("Order", runtime.WithSink(sink)),
		"a fan-out of it":             runtime.New[parentState]("Order", runtime.WithSink(runtime.FanOut(sink, runtime.NewMemorySink()))),
		"a parent that keeps nothing": runtime.New[parentState]("Order"),
	} {
		if err := f.Register(runtime.NewCall[parentState]("Bill", kept, nil, nil), runtime.NewStep("Reserve", noop, runtime.WithRollbackCall[parentState](kept, nil))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A parent that keeps nothing cannot resume, so its child need not.
	if err := runtime.New[parentState]("Order").Register(runtime.NewCall[parentState]("Bill", forgetful, nil, nil)); err != nil {
		t.Errorf("a parent and a child that keep nothing: %v", err)
	}
}
