package observe_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/flowgen/flowgen/runtime"
)

// TestRollbackSpans: a step span carries the step's attributes without
// flowgen.rollback; a rollback span, under the run like the steps, has
// flowgen.rollback=true and the rollback's idempotency key; the failed
// step's span records its error.
func TestRollbackSpans(t *testing.T) {
	tel, exp, _ := traced(t)
	f := runtime.New[resumeState]("Undo", runtime.WithObserver(tel))
	if err := f.Register(
		runtime.NewStep("A", func(context.Context, *resumeState) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(context.Context, *resumeState) error { return nil })),
		runtime.NewStep("B", func(context.Context, *resumeState) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("card declined"))
		}, runtime.WithIrreversible[resumeState]()),
	); err != nil {
		t.Fatal(err)
	}
	res, _ := f.Execute(context.Background(), resumeState{}, runtime.WithRunID("u1"))
	if res.Final != runtime.StateCompensated {
		t.Fatalf("run ended %s", res.Final)
	}
	spans := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		spans[s.Name] = s
	}
	run, a, b, undo := spans["run Undo"], spans["step A"], spans["step B"], spans["rollback A"]
	if undo.Name == "" || a.Name == "" || b.Name == "" || run.Name == "" {
		t.Fatalf("spans %v", exp.GetSpans())
	}
	for _, s := range []tracetest.SpanStub{a, b, undo} {
		if s.Parent.SpanID() != run.SpanContext.SpanID() {
			t.Errorf("%s is not a child of the run's span", s.Name)
		}
	}
	if attr(a, "flowgen.rollback") != "" || attr(a, "flowgen.idempotency_key") != "u1/A" || attr(a, "flowgen.outcome") != "ok" {
		t.Errorf("step A attributes %v", a.Attributes)
	}
	if attr(undo, "flowgen.rollback") != "true" || attr(undo, "flowgen.idempotency_key") != "u1/A/rollback" || attr(undo, "flowgen.step") != "A" || attr(undo, "flowgen.flow") != "Undo" {
		t.Errorf("rollback A attributes %v", undo.Attributes)
	}
	if b.Status.Description != "card declined" || len(b.Events) != 1 {
		t.Errorf("step B status %+v, events %v: want its error", b.Status, b.Events)
	}
	if attr(run, "flowgen.final") != "compensated" || attr(run, "flowgen.run_id") != "u1" {
		t.Errorf("run attributes %v", run.Attributes)
	}
}
