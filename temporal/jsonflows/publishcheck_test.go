package jsonflows

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/api/serviceerror"

	"github.com/flowgen/flowgen/engine"
)

// A message published again with another payload is refused (422) before
// anything changes, as on the engine: flow A, whose event trigger came
// after the first publication, starts no run of the refused payload.
// Before, A's run started (A comes first), then B's start found B's run
// of the first payload and the publication was refused.
func TestRepublishedOtherPayloadStartsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporal(t, "publish-check-test")
	flow := func(name string) string {
		return `{"version": 1, "flows": [{"name": "` + name + `", "triggers": [{"kind": "event", "topic": "payments", "event": "paid"}],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]}]}`
	}
	o.must(t, "PUT", "/flows", flow("B"), 200)
	o.must(t, "POST", "/events/payments/paid?id=m1", `{"a": 1}`, 202)
	o.must(t, "PUT", "/flows", flow("A"), 200)
	o.must(t, "POST", "/events/payments/paid?id=m1", `{"a": 2}`, 422)
	run := engine.EventRunID("A", "payments", "paid", "m1")
	_, err := o.c.DescribeWorkflowExecution(context.Background(), run, "")
	if nf := (*serviceerror.NotFound)(nil); !errors.As(err, &nf) {
		t.Errorf("the refused publication started run %s of flow A (describe: %v)", run, err)
	}
	o.must(t, "POST", "/events/payments/paid?id=m1", `{"a": 1}`, 202) // the same again: A's run starts
	if _, err := o.c.DescribeWorkflowExecution(context.Background(), run, ""); err != nil {
		t.Errorf("run %s of flow A: %v", run, err)
	}
}
