package observe_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/flowgen/flowgen/runtime"
)

// TestCancelledBranchIsNotAFailure: in a parallel block where Charge fails
// and Ship, still running, is cancelled for it, Charge's step span is the
// failure (status Error, outcome error) and Ship's is not: outcome
// cancelled, status unset, as the run's history (runtime.Event.Cancelled)
// and the web view tell them apart; flowgen_step_duration_seconds counts
// Ship's attempt under outcome cancelled, not error.
func TestCancelledBranchIsNotAFailure(t *testing.T) {
	tel, exp, _ := traced(t)
	f := runtime.New[resumeState]("Par", runtime.WithObserver(tel))
	shipping := make(chan struct{})
	if err := f.Register(runtime.NewParallel("Prepare", []*runtime.Step[resumeState]{
		runtime.NewStep("Charge", func(context.Context, *resumeState) (runtime.Outcome, error) {
			<-shipping
			return "", runtime.Permanent(errors.New("card declined"))
		}, runtime.WithIrreversible[resumeState]()),
		runtime.NewStep("Ship", func(ctx context.Context, _ *resumeState) (runtime.Outcome, error) {
			close(shipping)
			<-ctx.Done()
			return "", ctx.Err()
		}, runtime.WithIrreversible[resumeState]()),
	})); err != nil {
		t.Fatal(err)
	}
	res, _ := f.Execute(context.Background(), resumeState{}, runtime.WithRunID("p1"))
	if res.Final != runtime.StateFailed {
		t.Fatalf("run ended %s", res.Final)
	}
	charge, ship := oneSpan(t, exp, "step Charge"), oneSpan(t, exp, "step Ship")
	if charge.Status.Code != codes.Error || attr(charge, "outcome") != "error" {
		t.Errorf("step Charge, the branch that failed: status %v, outcome %q", charge.Status, attr(charge, "outcome"))
	}
	if ship.Status.Code == codes.Error || attr(ship, "outcome") != "cancelled" {
		t.Errorf("step Ship, cancelled because Charge failed: status %v, outcome %q, events %v", ship.Status, attr(ship, "outcome"), ship.Events)
	}
	outcomes := map[string]string{}
	for _, m := range telMetrics(t, tel)["flowgen_step_duration_seconds"].GetMetric() {
		l := map[string]string{}
		for _, kv := range m.GetLabel() {
			l[kv.GetName()] = kv.GetValue()
		}
		outcomes[l["step"]] = l["outcome"]
	}
	if outcomes["Charge"] != "error" || outcomes["Ship"] != "cancelled" {
		t.Errorf("flowgen_step_duration_seconds outcomes by step: %v, want Charge error, Ship cancelled", outcomes)
	}
}
