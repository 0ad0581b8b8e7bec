package flowtemporal

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

type looping struct{ Count int }

// loopDef is Reserve (undone by Release), then Poll and Check jumping back
// and forth for ever with no wait between them (runtime's loopFlow), and
// after Check a parallel block of one branch, so that the bound is met at
// a step and at a block's entry, depending on where it falls.
func loopDef(t *testing.T, released *atomic.Int32, opts ...runtime.Option) *runtime.Flow[looping] {
	t.Helper()
	def := runtime.New[looping]("Loop", opts...)
	noop := func(_ context.Context, s *looping) (runtime.Outcome, error) {
		s.Count++
		return runtime.OutcomeOK, nil
	}
	block := runtime.NewParallel("Both", []*runtime.Step[looping]{runtime.NewStep("Tick", noop)})
	block.Next = map[runtime.Outcome]string{runtime.OutcomeOK: "Poll"}
	must(t, def.Register(
		runtime.NewStep("Reserve", noop, runtime.WithRollback(func(context.Context, *looping) error { released.Add(1); return nil })),
		runtime.NewStep("Poll", noop),
		runtime.NewStep("Check", noop),
		block,
	))
	return def
}

// A run whose history reaches its flow's bound (runtime.WithMaxHistory)
// fails where the runtime's does, at the step it was about to run or the
// block it was about to enter, with the runtime's error, and is
// compensated: the same history as on the runtime, transition for
// transition.
func TestHistoryBoundAsOnTheRuntime(t *testing.T) {
	for _, bound := range []int{40, 41, 42, 43, 44} {
		var onRuntime, onTemporal atomic.Int32
		sink := runtime.NewMemorySink()
		onBoth(t, bound, sink, loopDef(t, &onRuntime, runtime.WithMaxHistory(bound), runtime.WithSink(sink)), loopDef(t, &onTemporal, runtime.WithMaxHistory(bound)))
		if onTemporal.Load() != 1 || onRuntime.Load() != 1 {
			t.Errorf("bound %d: Reserve undone %d times on Temporal, %d on the runtime; want once", bound, onTemporal.Load(), onRuntime.Load())
		}
	}
}

// onBoth runs a flow that reaches its history bound on the runtime (rdef,
// its events to sink) and on Temporal (tdef, the SDK's test environment):
// both end compensated, with the same error, at the bound, and the same
// history, transition for transition, each event's attempt, outcome and
// error.
func onBoth(t *testing.T, bound int, sink *runtime.MemorySink, rdef, tdef *runtime.Flow[looping]) {
	t.Helper()
	res, err := rdef.Execute(context.Background(), looping{})
	if !errors.Is(err, runtime.ErrHistoryLimit) || res.Final != runtime.StateCompensated {
		t.Fatalf("bound %d: the runtime's run ended %s: %v", bound, res.Final, err)
	}
	want, runErr := sink.History(res.RunID), res.Err
	f, err := New(tdef)
	must(t, err)
	env := newEnv(t)
	f.Register(env)
	env.ExecuteWorkflow(WorkflowName(tdef.ID()), looping{})
	wantEnd(t, env, runtime.StateCompensated)
	st := status(t, env)
	if !strings.Contains(st.Err, "history limit reached") || st.Err != runErr.Error() {
		t.Errorf("bound %d: status error %q, want the runtime's %q", bound, st.Err, runErr)
	}
	if got, w := transitions(st.History), transitions(want); !slices.Equal(got, w) {
		t.Errorf("bound %d: history\n%q\nwant the runtime's\n%q", bound, got, w)
	}
	for i := range min(len(st.History), len(want)) {
		g, w := st.History[i], want[i]
		if g.Attempt != w.Attempt || g.Outcome != w.Outcome || g.Error != w.Error {
			t.Errorf("bound %d: event %d: attempt %d, outcome %q, error %q; want %d, %q, %q", bound, g.Seq, g.Attempt, g.Outcome, g.Error, w.Attempt, w.Outcome, w.Error)
		}
	}
}

// A run whose workflow's Temporal history nears Temporal's own limits
// fails there and is compensated, before Temporal would terminate it,
// uncompensated, though the flow's own bound is far off: Temporal's
// history has several events per step. On a Temporal server: the SDK's
// test environment keeps no history to count.
func TestTemporalHistoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	defer func(n int) { temporalHistoryEvents = n }(temporalHistoryEvents)
	temporalHistoryEvents = 100
	var released atomic.Int32
	f, err := New(loopDef(t, &released))
	must(t, err)
	c := serveLooping(t, "history-bound", f)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := Start(ctx, c, "Loop", looping{}, client.StartWorkflowOptions{ID: "bound-1", TaskQueue: "history-bound"})
	must(t, err)
	res, err := run.Wait(ctx)
	if !errors.Is(err, runtime.ErrHistoryLimit) || res.Final != runtime.StateCompensated {
		t.Fatalf("run ended %s: %v; want compensated", res.Final, err)
	}
	st, err := run.Status(ctx)
	must(t, err)
	if st.State != runtime.StateCompensated || !strings.Contains(st.Err, "history limit reached") || !strings.Contains(st.Err, "Temporal history holds") {
		t.Errorf("status %s, error %q; want compensated at Temporal's history bound", st.State, st.Err)
	}
	d, err := c.DescribeWorkflowExecution(ctx, "bound-1", "")
	must(t, err)
	if n := d.GetWorkflowExecutionInfo().GetHistoryLength(); n < 100 || n > 200 {
		t.Errorf("Temporal's history: %d events; want the bound (100) and the compensation's", n)
	}
	if released.Load() != 1 {
		t.Errorf("Reserve undone %d times, want once", released.Load())
	}
}

// retryDef is Reserve (undone by Release), then Flaky, whose attempts all
// fail, six of them: the run's step, routed to Done on error so that a
// step failure the bound did not cause is seen, or, inBlock, the one
// branch of a parallel block.
func retryDef(t *testing.T, released, tried *atomic.Int32, inBlock bool, opts ...runtime.Option) *runtime.Flow[looping] {
	t.Helper()
	def := runtime.New[looping]("Retries", opts...)
	flaky := runtime.NewStep("Flaky", func(_ context.Context, s *looping) (runtime.Outcome, error) {
		tried.Add(1)
		return "", errors.New("flaky")
	}, runtime.WithRetry[looping](runtime.RetryPolicy{Attempts: 6, Initial: 10 * time.Millisecond}))
	reserve := runtime.NewStep("Reserve", func(_ context.Context, s *looping) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
		runtime.WithRollback(func(context.Context, *looping) error { released.Add(1); return nil }))
	if inBlock {
		flaky.Irreversible = true
		must(t, def.Register(reserve, runtime.NewParallel("Block", []*runtime.Step[looping]{flaky})))
		return def
	}
	flaky.Next = map[runtime.Outcome]string{runtime.OutcomeError: "Done"}
	must(t, def.Register(reserve, flaky,
		runtime.NewStep("Done", func(_ context.Context, s *looping) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }),
	))
	return def
}

// The bound is checked before each retry of the run's step, and of a
// parallel block's branch, as on the runtime, not only before its first
// attempt: a run whose retries bring its history to the bound fails
// there, the retry not run, with the runtime's error, attempt and
// history, and is compensated (not routed by the step's error outcome).
// It ran every attempt of its policy, then routed the failure to Done, or
// failed the block with the branch's last error.
func TestHistoryBoundBeforeEachRetry(t *testing.T) {
	for _, c := range []struct {
		inBlock bool
		bounds  []int
	}{{false, []int{3, 4, 5, 7}}, {true, []int{4, 5, 6}}} {
		for _, bound := range c.bounds {
			var onRuntime, onTemporal, triedRuntime, triedTemporal atomic.Int32
			sink := runtime.NewMemorySink()
			onBoth(t, bound, sink, retryDef(t, &onRuntime, &triedRuntime, c.inBlock, runtime.WithMaxHistory(bound), runtime.WithSink(sink)), retryDef(t, &onTemporal, &triedTemporal, c.inBlock, runtime.WithMaxHistory(bound)))
			if triedTemporal.Load() != triedRuntime.Load() || onTemporal.Load() != 1 || onRuntime.Load() != 1 {
				t.Errorf("in a block %v, bound %d: Flaky tried %d times on Temporal, %d on the runtime; Reserve undone %d and %d times, want once", c.inBlock, bound, triedTemporal.Load(), triedRuntime.Load(), onTemporal.Load(), onRuntime.Load())
			}
		}
	}
}

// serveLooping starts a Temporal server of its own and a worker of f on
// queue, which stop when the test ends, and returns the server's client.
func serveLooping(t *testing.T, queue string, f *Flow[looping]) client.Client {
	t.Helper()
	ts := testserver.New(t)
	c := ts.GetDefaultClient()
	w := worker.New(c, queue, WorkerOptions(worker.Options{}))
	f.Register(w)
	must(t, w.Start())
	t.Cleanup(w.Stop)
	return c
}
