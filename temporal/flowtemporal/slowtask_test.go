package flowtemporal

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

type slow struct{ N int }

// A run whose workflow task takes more than a second without yielding,
// here its sink taking 1.5 s for each event (a store under load; the
// same goes for a task that encodes megabytes of state in each event),
// goes on, on a worker set with WorkerOptions, as a runtime run whose
// sink is slow does. Before, the SDK's deadlock detector (1 s by default)
// failed each such task ("Potential deadlock detected"), and the task
// retried failed again: the run never moved, though the docs asked of a
// sink only that it answer within the workflow task's timeout (10 s).
func TestSlowWorkflowTaskGoesOn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	var emitted atomic.Int32
	sink := runtime.SinkFunc(func(context.Context, runtime.Event) error {
		emitted.Add(1)
		time.Sleep(1500 * time.Millisecond)
		return nil
	})
	def := runtime.New[slow]("Slow", runtime.WithSink(sink), Awaits())
	must(t, def.Register(runtime.NewStep("Count", func(_ context.Context, s *slow) (runtime.Outcome, error) {
		s.N++
		return "", nil
	})))
	f, err := New(def)
	must(t, err)
	ts := testserver.New(t, temporaltest.WithBaseWorkerOptions(WorkerOptions(worker.Options{})))
	ts.NewWorker("slow", f.Register)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	run, err := Start(ctx, ts.GetDefaultClient(), "Slow", slow{}, client.StartWorkflowOptions{ID: "slow-1", TaskQueue: "slow"})
	must(t, err)
	res, err := run.Wait(ctx)
	if err != nil || res.Final != runtime.StateDone || res.State.N != 1 {
		t.Fatalf("ended %s with %+v, %v after %d sink calls; want done with N 1", res.Final, res.State, err, emitted.Load())
	}
}
