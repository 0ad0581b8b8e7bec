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
	const queue = "result-size"
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
	f, err := NewWith(def, Options{MaxInput: limit})
	must(t, err)
	ts := testserver.New(t, testserver.Dynamic(dynamicconfig.StaticClient{
		dynamicconfig.BlobSizeLimitError.Key(): []dynamicconfig.ConstrainedValue{{Value: limit}},
		dynamicconfig.BlobSizeLimitWarn.Key():  []dynamicconfig.ConstrainedValue{{Value: limit / 2}},
	}))
	c := ts.GetDefaultClient()
	w := worker.New(c, queue, WorkerOptions(worker.Options{}))
	f.Register(w)
	must(t, w.Start())
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := Start(ctx, c, "Grow", grown{}, client.StartWorkflowOptions{ID: "grow-1", TaskQueue: queue})
	must(t, err)
	res, err := run.Wait(ctx)
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
