package observe_test

import (
	"context"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// TestChildRunInParentTrace: the child run of a call step is in its
// parent's trace, under the parent's run span.
func TestChildRunInParentTrace(t *testing.T) {
	tel, exp, _ := traced(t)
	child := runtime.New[refundState]("Child", runtime.WithObserver(tel))
	if err := child.Register(runtime.NewStep("Do", func(context.Context, *refundState) (runtime.Outcome, error) { return "", nil })); err != nil {
		t.Fatal(err)
	}
	parent := runtime.New[orderState]("Parent", runtime.WithObserver(tel))
	if err := parent.Register(runtime.NewCall[orderState, refundState]("Sub", child, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if res, err := parent.Execute(context.Background(), orderState{}, runtime.WithRunID("p1")); res.Final != runtime.StateDone {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	p, c := oneSpan(t, exp, "run Parent"), oneSpan(t, exp, "run Child")
	t.Logf("\n%s", tree(exp.GetSpans()))
	if c.SpanContext.TraceID() != p.SpanContext.TraceID() {
		t.Errorf("child run in trace %v, parent in %v", c.SpanContext.TraceID(), p.SpanContext.TraceID())
	}
}
