package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/dynamicconfig"

	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

const queue = "bench"

// server starts one Temporal server with one worker of both workflows.
func server(tb testing.TB) client.Client {
	tb.Helper()
	// One partition per task queue: with the default four and one worker,
	// tasks wait for forwarding between partitions, and the benchmark
	// would measure that wait (the same for both workflows).
	ts := testserver.New(tb, testserver.Dynamic(dynamicconfig.StaticClient{
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  []dynamicconfig.ConstrainedValue{{Value: 1}},
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): []dynamicconfig.ConstrainedValue{{Value: 1}},
	}))
	five, err := NewFiveTemporal(Steps{})
	if err != nil {
		tb.Fatal(err)
	}
	ts.NewWorker(queue, func(r worker.Registry) {
		five.Register(r)
		r.RegisterWorkflowWithOptions(Handwritten, workflow.RegisterOptions{Name: "Handwritten"})
		for _, n := range []string{"Hand.A", "Hand.B", "Hand.C", "Hand.D", "Hand.E"} {
			r.RegisterActivityWithOptions(Step, activity.RegisterOptions{Name: n})
		}
	})
	return ts.GetDefaultClient()
}

// batch is how many workflows of one kind run at once.
const batch = 16

// starter starts one workflow and returns what waits for its result.
type starter func(ctx context.Context, id string) (wait func() (FiveState, error), err error)

// runBatch runs batch workflows of one kind at once and returns the time
// they took, start to last result; each must end with N = 5.
func runBatch(b *testing.B, prefix string, start starter) time.Duration {
	ctx := context.Background()
	t0 := time.Now()
	waits := make([]func() (FiveState, error), batch)
	for i := range waits {
		w, err := start(ctx, fmt.Sprintf("%s-%d", prefix, i))
		if err != nil {
			b.Fatal(err)
		}
		waits[i] = w
	}
	for _, w := range waits {
		s, err := w()
		if err == nil && s.N != 5 {
			err = fmt.Errorf("N = %d, want 5", s.N)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t0)
}

// BenchmarkFive compares a generated flow of five steps with a
// hand-written workflow of five activities, on one server in one run. The
// machine this runs on is shared, so the two kinds alternate, batch by
// batch (in either order), and each is timed on its own batches: hand-ns
// and gen-ns are the time per flow, gen/hand their ratio (the target is at
// most 1.1). An op is a batch of each.
func BenchmarkFive(b *testing.B) {
	c := server(b)
	opts := func(id string) client.StartWorkflowOptions {
		return client.StartWorkflowOptions{ID: id, TaskQueue: queue}
	}
	hand := func(ctx context.Context, id string) (func() (FiveState, error), error) {
		wr, err := c.ExecuteWorkflow(ctx, opts(id), "Handwritten", FiveState{})
		if err != nil {
			return nil, err
		}
		return func() (FiveState, error) {
			var s FiveState
			return s, wr.Get(ctx, &s)
		}, nil
	}
	gen := func(ctx context.Context, id string) (func() (FiveState, error), error) {
		run, err := StartFive(ctx, c, FiveState{}, opts(id))
		if err != nil {
			return nil, err
		}
		return func() (FiveState, error) {
			res, err := run.Wait(ctx)
			return res.State, err
		}, nil
	}
	var handT, genT time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			handT += runBatch(b, fmt.Sprintf("h%d", i), hand)
			genT += runBatch(b, fmt.Sprintf("g%d", i), gen)
		} else {
			genT += runBatch(b, fmt.Sprintf("g%d", i), gen)
			handT += runBatch(b, fmt.Sprintf("h%d", i), hand)
		}
	}
	flows := float64(b.N * batch)
	b.ReportMetric(float64(handT.Nanoseconds())/flows, "hand-ns/flow")
	b.ReportMetric(float64(genT.Nanoseconds())/flows, "gen-ns/flow")
	b.ReportMetric(float64(genT)/float64(handT), "gen/hand")
}
