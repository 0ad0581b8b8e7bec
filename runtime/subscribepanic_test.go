package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// panickingSub is a Subscriber with a bug: Subscribe panics.
type panickingSub struct{}

func (panickingSub) Subscribe(context.Context, runtime.Wait, func(runtime.Delivery) bool) (func(), error) {
	panic("subscriber bug")
}

// TestSubscribePanicIsAnError: a Subscribe that panics fails the await
// with a *PanicError, which the flow routes and compensates as any
// failure, as a step's action that panics does. Before, the panic went up
// the run's goroutine and took the process (here the test binary) down,
// after the step before had done its work and with nothing rolled back.
// A gated rollback subscribes through the same function.
func TestSubscribePanicIsAnError(t *testing.T) {
	sink := runtime.NewMemorySink()
	f := runtime.New[state]("subscribe-panic", runtime.WithSubscriber(panickingSub{}), runtime.WithSink(sink))
	undone := false
	mustRegister(t, f,
		runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(context.Context, *state) error { undone = true; return nil })),
		runtime.NewAwait[state]("topic", "awaited", nil, nil, time.Hour, runtime.WithID[state]("B")),
	)
	res, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r1"))
	var pe *runtime.PanicError
	if res.Final != runtime.StateCompensated || !errors.As(err, &pe) || !strings.Contains(err.Error(), "subscriber bug") {
		t.Fatalf("Execute = %s, %v; want compensated by the Subscriber's panic", res.Final, err)
	}
	if !undone {
		t.Error("step A was not rolled back")
	}
}
