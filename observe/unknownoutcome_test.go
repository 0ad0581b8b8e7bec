package observe_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/flowgen/flowgen/runtime"
)

// TestUnknownOutcomeIsAFailure: a step whose action returns an outcome
// its flow does not route (a remote provider's answer, a hand-written
// step's) fails the run with runtime.ErrUnknownOutcome. Its span and
// flowgen_step_duration_seconds say so: outcome error, status Error, not
// the outcome it named with status unset, as though it had succeeded. The
// metric's outcome label so stays within the documented set (ok, the
// step's named outcomes, error, timeout, cancelled, aborted) whatever a
// handler answers: a handler that names outcomes after its data does not
// make a series of each. The same for a branch of a parallel block, which
// ends ok or fails. An outcome the flow routes (Fine's approved, a
// choose's) keeps its name.
func TestUnknownOutcomeIsAFailure(t *testing.T) {
	tel, exp, _ := traced(t)
	n := 0
	named := func(context.Context, *resumeState) (runtime.Outcome, error) {
		n++
		return runtime.Outcome(fmt.Sprintf("declined-%d", n)), nil
	}
	pick := runtime.New[resumeState]("Odd", runtime.WithObserver(tel))
	block := runtime.New[resumeState]("OddBlock", runtime.WithObserver(tel))
	if err := pick.Register(runtime.NewStep("Pick", named, runtime.WithIrreversible[resumeState](),
		runtime.WithNext[resumeState]("approved", runtime.Done))); err != nil {
		t.Fatal(err)
	}
	if err := block.Register(runtime.NewParallel("Block", []*runtime.Step[resumeState]{
		runtime.NewStep("Branch", named, runtime.WithIrreversible[resumeState]()),
	})); err != nil {
		t.Fatal(err)
	}
	fine := runtime.New[resumeState]("Fine", runtime.WithObserver(tel))
	if err := fine.Register(
		runtime.NewStep("Approve", func(context.Context, *resumeState) (runtime.Outcome, error) { return "approved", nil },
			runtime.WithIrreversible[resumeState](), runtime.WithNext[resumeState]("approved", "Route")),
		runtime.NewChoice("Route", []func(*resumeState) (bool, error){func(*resumeState) (bool, error) { return true, nil }},
			runtime.WithNext[resumeState](runtime.ChoiceOutcome(0), runtime.Done), runtime.WithNext[resumeState](runtime.OutcomeOtherwise, runtime.Done)),
	); err != nil {
		t.Fatal(err)
	}
	if res, err := fine.Execute(context.Background(), resumeState{}, runtime.WithRunID("fine")); res.Final != runtime.StateDone {
		t.Fatalf("Fine: run ended %s, %v", res.Final, err)
	}
	for _, f := range []*runtime.Flow[resumeState]{pick, block} {
		res, err := f.Execute(context.Background(), resumeState{}, runtime.WithRunID(f.ID()))
		if res.Final != runtime.StateFailed || !errors.Is(err, runtime.ErrUnknownOutcome) {
			t.Fatalf("%s: run ended %s, %v; want failed with ErrUnknownOutcome", f.ID(), res.Final, err)
		}
	}
	for _, step := range []string{"Pick", "Branch"} {
		s := oneSpan(t, exp, "step "+step)
		if s.Status.Code != codes.Error || attr(s, "flowgen.outcome") != "error" {
			t.Errorf("step %s, which named an outcome its flow does not route: status %v, outcome %q; want Error, error", step, s.Status, attr(s, "flowgen.outcome"))
		}
	}
	if s := oneSpan(t, exp, "step Approve"); s.Status.Code == codes.Error || attr(s, "flowgen.outcome") != "approved" {
		t.Errorf("step Approve, whose outcome the flow routes: status %v, outcome %q", s.Status, attr(s, "flowgen.outcome"))
	}
	if s := oneSpan(t, exp, "step Route"); s.Status.Code == codes.Error {
		t.Errorf("step Route, a choose: status %v, outcome %q", s.Status, attr(s, "flowgen.outcome"))
	}
	if outcomes := stepOutcomes(t, tel); outcomes["Pick"] != "error" || outcomes["Branch"] != "error" || outcomes["Approve"] != "approved" {
		t.Errorf("flowgen_step_duration_seconds outcomes by step: %v, want Pick error, Branch error, Approve approved", outcomes)
	}
}
