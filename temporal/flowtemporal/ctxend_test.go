package flowtemporal

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/runtime"
)

// A call of a run's handle that its context ends answers an error that
// wraps the context's, as the runtime's Run.Wait answers ctx's error, so
// that errors.Is(err, context.DeadlineExceeded) tells a caller's own
// deadline (a worker that does not answer a query in time) from the run's
// errors. Before, the SDK's *serviceerror.DeadlineExceeded or Canceled
// came back, which wraps neither.
func TestCallsEndedByTheirContextSaySo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	c := onServer(t, holdFlow(t), "ctxend")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := Start(ctx, c, "Hold", paid{}, client.StartWorkflowOptions{ID: "hold-1", TaskQueue: "ctxend"})
	must(t, err)

	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	if _, err := run.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past its context's deadline: %v (%T), want it to wrap context.DeadlineExceeded", err, err)
	}
	done, end := context.WithCancel(ctx)
	end()
	checks := map[string]func(context.Context) error{
		"Status":  func(ctx context.Context) error { _, err := run.Status(ctx); return err },
		"History": func(ctx context.Context) error { _, err := run.History(ctx); return err },
		"Abort":   run.Abort,
		"Deliver": func(ctx context.Context) error {
			return run.Deliver(ctx, "payments", "paid", json.RawMessage(`{}`))
		},
	}
	for name, call := range checks {
		if err := call(done); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with its context cancelled: %v (%T), want it to wrap context.Canceled", name, err, err)
		}
	}
	must(t, run.Abort(ctx))
}

// holdFlow is flow Hold: one await of an hour, a run that waits.
func holdFlow(t *testing.T) *Flow[paid] {
	t.Helper()
	def := runtime.New[paid]("Hold", Awaits())
	must(t, def.Register(runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, nil, time.Hour)))
	f, err := New(def)
	must(t, err)
	return f
}
