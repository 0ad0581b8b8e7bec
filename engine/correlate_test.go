package engine

import (
	"errors"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/runtime/store"
)

// An await's spec carries the payload path its flow names (awaitSpec.field).
// A JSON flow that names the default path loads; another path is refused
// (see awaitSpec.field) rather than never matched, and the refusal is a
// positioned diagnostic (testdata/engine/bad/correlate-on.json).
func TestCorrelateOnCompiles(t *testing.T) {
	await := func(on string) *dsl.Flow {
		a := &dsl.Action{Kind: dsl.ActionAwait, Topic: "payments", Event: "paid", Correlate: &dsl.Ident{Name: "OrderID"}, Timeout: dsl.Duration(3600e9)}
		if on != "" {
			a.CorrelateOn = &dsl.Ident{Name: on}
		}
		return &dsl.Flow{Name: "Wait", Steps: []*dsl.Step{{Name: "Paid", Action: a}}}
	}
	for on, want := range map[string]string{"": "", "correlation_id": "correlation_id"} {
		fl := await(on)
		spec, err := newAwaitSpec(fl, fl.Steps[0])
		if err != nil || spec.field != want || spec.correlate != "OrderID" {
			t.Errorf("on %q: spec %+v, %v; want field %q", on, spec, err, want)
		}
	}
	fl := await("payment.order_id")
	if _, err := newAwaitSpec(fl, fl.Steps[0]); !errors.Is(err, errCorrelationField) {
		t.Errorf("on payment.order_id: %v, want errCorrelationField", err)
	}

	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	const flow = `{"version": 1, "flows": [{"name": "Wait", "state": "WaitState", "steps": [
  {"name": "Paid", "action": {"kind": "await", "topic": "payments", "event": "paid", "correlate": "OrderID", "correlate_on": "correlation_id", "timeout": "1h"}}]}]}`
	if ds, err := e.LoadFlows("wait.json", []byte(flow)); err != nil || len(e.Flows()) != 1 {
		t.Fatalf("LoadFlows: %v %v; flows %v", err, ds, e.Flows())
	}
}
