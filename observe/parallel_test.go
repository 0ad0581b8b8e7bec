package observe_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/flowgen/flowgen/observe"
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
	if charge.Status.Code != codes.Error || attr(charge, "flowgen.outcome") != "error" {
		t.Errorf("step Charge, the branch that failed: status %v, outcome %q", charge.Status, attr(charge, "flowgen.outcome"))
	}
	if ship.Status.Code == codes.Error || attr(ship, "flowgen.outcome") != "cancelled" {
		t.Errorf("step Ship, cancelled because Charge failed: status %v, outcome %q, events %v", ship.Status, attr(ship, "flowgen.outcome"), ship.Events)
	}
	if outcomes := stepOutcomes(t, tel); outcomes["Charge"] != "error" || outcomes["Ship"] != "cancelled" {
		t.Errorf("flowgen_step_duration_seconds outcomes by step: %v, want Charge error, Ship cancelled", outcomes)
	}
}

// TestAbortedStepIsNotAFailure: a step attempt an abort cuts short is not
// a failure of the step (runtime.Event.Interrupted, drawn grey and dashed
// in the web view, not red): its span ends outcome aborted, status unset,
// and flowgen_step_duration_seconds counts it under outcome aborted.
func TestAbortedStepIsNotAFailure(t *testing.T) {
	tel, exp, _ := traced(t)
	f := runtime.New[resumeState]("Cut", runtime.WithObserver(tel))
	started := make(chan struct{})
	if err := f.Register(runtime.NewStep("Slow", func(ctx context.Context, _ *resumeState) (runtime.Outcome, error) {
		close(started)
		<-ctx.Done()
		return "", ctx.Err()
	}, runtime.WithIrreversible[resumeState]())); err != nil {
		t.Fatal(err)
	}
	r, err := f.Start(context.Background(), resumeState{}, runtime.WithRunID("a1"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.Wait(context.Background()); res.Final != runtime.StateAborted {
		t.Fatalf("run ended %s", res.Final)
	}
	s := oneSpan(t, exp, "step Slow")
	if s.Status.Code == codes.Error || attr(s, "flowgen.outcome") != "aborted" {
		t.Errorf("step Slow, cut short by an abort: status %v, outcome %q", s.Status, attr(s, "flowgen.outcome"))
	}
	if o := stepOutcomes(t, tel)["Slow"]; o != "aborted" {
		t.Errorf("flowgen_step_duration_seconds{step=Slow} has outcome %q, want aborted", o)
	}
}

// stepOutcomes is the outcome label of flowgen_step_duration_seconds by
// step (the last series read, for a step with several).
func stepOutcomes(t *testing.T, tel *observe.Telemetry) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range telMetrics(t, tel)["flowgen_step_duration_seconds"].GetMetric() {
		l := map[string]string{}
		for _, kv := range m.GetLabel() {
			l[kv.GetName()] = kv.GetValue()
		}
		out[l["step"]] = l["outcome"]
	}
	return out
}
