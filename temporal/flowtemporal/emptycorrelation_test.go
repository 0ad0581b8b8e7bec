package flowtemporal

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// A correlated await whose value is empty (the field was never set) ends
// with the outcome error at once, routed by Next, as on the runtime
// (TestAwaitEmptyCorrelationFails there): the error is the runtime's
// (Step.CorrelationError), and the run takes no event whose member is
// empty. Before, it waited and took the first one. A run that waited so
// before the change replays waiting, taking the event it took
// (versionEmptyCorrelation).
func TestAwaitEmptyCorrelation(t *testing.T) {
	for _, c := range []struct {
		name    string
		version workflow.Version
		want    []string // what the run's steps did
	}{
		{"a new run", 1, []string{"exec Manual"}},
		{"a run replayed from before", workflow.DefaultVersion, []string{"exec Ship"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var j journal
			step := func(id string) *runtime.Step[paid] {
				return runtime.NewStep(id, func(context.Context, *paid) (runtime.Outcome, error) {
					j.add("exec %s", id)
					return runtime.OutcomeOK, nil
				}, runtime.WithIrreversible[paid](), runtime.WithNext[paid](runtime.OutcomeOK, "done"))
			}
			wait := runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, func(s *paid) string { return s.Order }, time.Hour,
				runtime.WithID[paid]("Pay"), runtime.WithNext[paid](runtime.OutcomeError, "Manual"))
			wait.Await.CorrelateField = "Order"
			def := runtime.New[paid]("Pay", Awaits())
			must(t, def.Register(wait, step("Ship"), step("Manual")))
			f, err := New(def)
			must(t, err)
			env := newEnv(t)
			f.Register(env)
			env.OnGetVersion(versionEmptyCorrelation, workflow.DefaultVersion, 1).Return(c.version)
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(SignalName("payments", "paid"), SignalArg(runtime.Delivery{Payload: json.RawMessage(`{"correlation_id":"","amount":3}`)}))
			}, time.Minute)
			env.ExecuteWorkflow(WorkflowName("Pay"), paid{}) // no order: the correlation is ""
			wantEnd(t, env, runtime.StateDone)
			if got := j.get(); !slices.Equal(got, c.want) {
				t.Fatalf("effects %q, want %q", got, c.want)
			}
			if c.version == workflow.DefaultVersion {
				return
			}
			h := status(t, env).History
			want := `step "Pay" awaits payments paid correlated on correlation_id with field Order, which is empty: ` + runtime.ErrNoCorrelation.Error()
			if len(h) < 2 || h[0].Wait == nil || !h[0].Wait.Correlated || h[1].From != "Pay:waiting" ||
				h[1].Outcome != runtime.OutcomeError || !strings.Contains(h[1].Error, want) {
				t.Fatalf("history %q %+v; want the wait, then the outcome error %q", transitions(h), h[1], want)
			}
		})
	}
}
