package flowtemporal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/common/dynamicconfig"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// grown is the state of the flow of TestStepResultPastThePayloadLimit.
type grown struct {
	Pad string
}

// A step whose attempt leaves a state past the cluster's payload limit
// fails that attempt, permanently, saying so, as one that leaves a state
// that does not encode as JSON does (runtime.StateNotJSON): the run
// records the attempt, routes the failure, and rolls back the steps
// before it; the step, which failed, is not rolled back. Its first
// attempt fails as any, so the one past the limit is its second. Before,
// the worker sent the result and the cluster refused it, failing the
// activity with its own error ("Complete result exceeds size limit"),
// which the run recorded on attempt 0, the attempt that made it unknown.
// The server here limits a payload to 256 KiB; the state grows to 300 KiB.
func TestStepResultPastThePayloadLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	const limit = 256 << 10
	var j journal
	def := runtime.New[grown]("Grow")
	must(t, def.Register(
		runtime.NewStep("Reserve", func(context.Context, *grown) (runtime.Outcome, error) {
			return runtime.OutcomeOK, nil
		}, runtime.WithRollback(func(context.Context, *grown) error { j.add("undo Reserve"); return nil })),
		runtime.NewStep("Grow", func(ctx context.Context, s *grown) (runtime.Outcome, error) {
			j.add("do Grow a%d", runtime.Attempt(ctx))
			if runtime.Attempt(ctx) == 1 {
				return "", errors.New("not yet")
			}
			s.Pad = strings.Repeat("x", 300<<10)
			return runtime.OutcomeOK, nil
		}, runtime.WithRetry[grown](runtime.RetryPolicy{Attempts: 3}),
			runtime.WithRollback(func(context.Context, *grown) error { j.add("undo Grow"); return nil })),
		runtime.NewStep("Tell", func(context.Context, *grown) (runtime.Outcome, error) {
			j.add("do Tell")
			return runtime.OutcomeOK, nil
		}, runtime.WithIrreversible[grown]()),
	))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, run, res, err := runLimited(ctx, t, def, limit, grown{})
	if res.Final != runtime.StateCompensated || err == nil || !strings.Contains(err.Error(), "payload limit") {
		t.Fatalf("run ended %s: %v; want compensated, Grow's result past the payload limit", res.Final, err)
	}
	if got, want := strings.Join(j.get(), ", "), "do Grow a1, do Grow a2, undo Reserve"; got != want {
		t.Errorf("calls %q, want %q: the attempt past the limit is not retried, and Grow, which failed, is not rolled back", got, want)
	}
	st, err := run.Status(ctx)
	must(t, err)
	var ended *runtime.Event
	for i := range st.History {
		if e := &st.History[i]; e.From == runtime.RunningState("Grow") && e.To != runtime.RunningState("Grow") {
			ended = e
		}
	}
	if ended == nil || ended.Attempt != 2 || ended.Outcome != runtime.OutcomeError || !strings.Contains(ended.Error, "payload limit") {
		t.Errorf("Grow's end %+v; want its attempt 2 failed, outcome error, saying its result is past the payload limit", ended)
	}
	if res.State.Pad != "" {
		t.Errorf("the run's state kept the failed attempt's %d bytes", len(res.State.Pad))
	}
}

// halves is the state of TestMergePastThePayloadLimit: what each branch
// writes.
type halves struct {
	A, B string
}

// A parallel block whose branches' writes, merged, leave the run's state
// past the cluster's payload limit, each branch's within it, fails the
// branch whose merge did, saying so, with the state as before that merge,
// as a merge that leaves a state that does not encode as JSON does
// (runtime.StateNotJSON): the run rolls back the branch that completed and
// the step before the block, and ends compensated, as flowgen records it.
// Before, the merge was taken and the run ended done in workflow code, and
// the cluster, refusing a result past its limit, terminated the workflow:
// no end recorded, and the run read "terminated outside flowgen". The
// server here limits a payload to 256 KiB; each branch writes 150 KiB.
func TestMergePastThePayloadLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	const limit = 256 << 10
	var j journal
	pad := strings.Repeat("x", 150<<10)
	branch := func(id string, write func(*halves)) *runtime.Step[halves] {
		return runtime.NewStep(id, func(_ context.Context, s *halves) (runtime.Outcome, error) {
			write(s)
			return runtime.OutcomeOK, nil
		}, runtime.WithRollback(func(context.Context, *halves) error { j.add("undo %s", id); return nil }),
			runtime.WithWrites(func(dst, src *halves) { write(dst) }))
	}
	def := runtime.New[halves]("Halves")
	must(t, def.Register(
		runtime.NewStep("Reserve", func(context.Context, *halves) (runtime.Outcome, error) {
			return runtime.OutcomeOK, nil
		}, runtime.WithRollback(func(context.Context, *halves) error { j.add("undo Reserve"); return nil })),
		runtime.NewParallel("Both", []*runtime.Step[halves]{
			branch("A", func(s *halves) { s.A = pad }),
			branch("B", func(s *halves) { s.B = pad }),
		}),
	))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, res, err := runLimited(ctx, t, def, limit, halves{})
	d, derr := c.DescribeWorkflowExecution(ctx, "Halves-1", "")
	must(t, derr)
	if s := d.GetWorkflowExecutionInfo().GetStatus().String(); s == "Terminated" {
		t.Fatalf("the cluster terminated run Halves-1's workflow (%v); want it to end as flowgen records it", err)
	}
	if res.Final != runtime.StateCompensated || err == nil || !strings.Contains(err.Error(), "payload limit") {
		t.Fatalf("run ended %s: %v; want compensated, the second merge past the payload limit", res.Final, err)
	}
	calls := j.get()
	if len(calls) != 2 || calls[1] != "undo Reserve" || calls[0] != "undo A" && calls[0] != "undo B" {
		t.Errorf("rollbacks %q; want the branch merged first, then Reserve", calls)
	}
	if (res.State.A == "") == (res.State.B == "") {
		t.Errorf("the run's state holds %d and %d bytes; want the first merge's only", len(res.State.A), len(res.State.B))
	}
}

// runLimited runs def from start, with Options.MaxInput limit, on a
// Temporal server whose payload limit is limit bytes, with a worker of
// queue def's ID, both stopped when t ends: the run's ID is def's ID
// followed by "-1"; the result and error are the run's Wait.
func runLimited[S any](ctx context.Context, t *testing.T, def *runtime.Flow[S], limit int, start S) (client.Client, *Run[S], runtime.Result[S], error) {
	t.Helper()
	f, err := NewWith(def, Options{MaxInput: limit})
	must(t, err)
	ts := testserver.New(t, testserver.Dynamic(dynamicconfig.StaticClient{
		dynamicconfig.BlobSizeLimitError.Key(): []dynamicconfig.ConstrainedValue{{Value: limit}},
		dynamicconfig.BlobSizeLimitWarn.Key():  []dynamicconfig.ConstrainedValue{{Value: limit / 2}},
	}))
	c := ts.GetDefaultClient()
	w := worker.New(c, def.ID(), WorkerOptions(worker.Options{}))
	f.Register(w)
	must(t, w.Start())
	t.Cleanup(w.Stop)
	run, err := Start(ctx, c, def.ID(), start, client.StartWorkflowOptions{ID: def.ID() + "-1", TaskQueue: def.ID()})
	must(t, err)
	res, err := run.Wait(ctx)
	return c, run, res, err
}
