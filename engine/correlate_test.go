package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A JSON flow's await matches the payload path its flow names (correlate
// OrderID on "payment.order_id"): an event carrying the value there
// completes the run; one carrying it as correlation_id does not.
func TestJSONAwaitCorrelatesOnItsPath(t *testing.T) {
	fx := newFixture(t)
	const flow = `{"version": 1, "flows": [{"name": "Wait", "state": "WaitState", "steps": [
  {"name": "Paid", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment",
   "correlate": "OrderID", "correlate_on": "payment.order_id", "timeout": "1h"}, "irreversible": true}]}]}`
	e := startWaitFlow(t, fx, flow)
	defer fx.stop()
	id, err := e.StartRun(context.Background(), "Wait", json.RawMessage(`{"OrderID":"o-1"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	if st, _ := e.Status(context.Background(), id); st.Wait.Field != "payment.order_id" || st.Wait.Correlation != "o-1" {
		t.Fatalf("wait %+v", st.Wait)
	}
	publish(t, fx.broker, "m1", "payments", "paid", map[string]any{"correlation_id": "o-1"})
	publish(t, fx.broker, "m2", "payments", "paid", map[string]any{"payment": map[string]any{"order_id": "o-2"}})
	publish(t, fx.broker, "m3", "payments", "paid", map[string]any{"payment": map[string]any{"order_id": "o-1"}, "amount": 3})
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
	st, _ := e.Status(context.Background(), id)
	var state State
	if err := json.Unmarshal(st.Snapshot, &state); err != nil {
		t.Fatal(err)
	}
	var pay struct{ Amount int }
	if err := state.Get("Payment", &pay); err != nil || pay.Amount != 3 {
		t.Fatalf("payment %+v, %v: took the wrong event", pay, err)
	}
}

// A JSON flow's correlate field is read by the runtime's rule, as the
// event's member is (runtime.Correlation): a string by its value, any
// other JSON value as written. A null field waits for null ("null", as the
// run lists it), so an event whose member is null is taken, and one whose
// member is the empty string is not: a null is not an empty value. Before,
// the field read as "" (State.String), so the run took the empty string's
// event and never a null one.
func TestJSONAwaitCorrelatesNullAsWritten(t *testing.T) {
	fx := newFixture(t)
	const flow = `{"version": 1, "flows": [{"name": "Wait", "state": "WaitState", "steps": [
  {"name": "Paid", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment",
   "correlate": "OrderID", "timeout": "1h"}, "irreversible": true}]}]}`
	e := startWaitFlow(t, fx, flow)
	defer fx.stop()
	id, err := e.StartRun(context.Background(), "Wait", json.RawMessage(`{"OrderID": null}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	if st, _ := e.Status(context.Background(), id); st.Wait.Correlation != "null" {
		t.Fatalf("wait %+v, want the correlation null as written", st.Wait)
	}
	publish(t, fx.broker, "m1", "payments", "paid", map[string]any{"correlation_id": "", "amount": 1})
	publish(t, fx.broker, "m2", "payments", "paid", map[string]any{"correlation_id": nil, "amount": 2})
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
	st, _ := e.Status(context.Background(), id)
	var state State
	if err := json.Unmarshal(st.Snapshot, &state); err != nil {
		t.Fatal(err)
	}
	var pay struct{ Amount int }
	if err := state.Get("Payment", &pay); err != nil || pay.Amount != 2 {
		t.Fatalf("payment %+v, %v: took the empty string's event", pay, err)
	}
}

// startWaitFlow starts an engine on fx that serves flow, a JSON document
// of one flow, as wait.json; fx stops it.
func startWaitFlow(t *testing.T, fx *fixture, flow string) *Engine {
	t.Helper()
	e, err := New(Options{Store: fx.st, Broker: fx.broker, Clock: fx.clock, ID: "corr"})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("wait.json", []byte(flow)); err != nil {
		t.Fatalf("LoadFlows: %v %v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx.e = e
	return e
}
