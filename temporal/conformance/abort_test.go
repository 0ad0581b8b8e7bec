package conformance

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// holdJSON is a flow whose second step, Charge, has a timeout under
// flowtemporal.HeartbeatTimeout: its attempts do not heartbeat on
// Temporal.
const holdJSON = `{"version": 1, "flows": [{
  "name": "Hold", "state": "HoldState",
  "steps": [
    {"name": "Reserve", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Reserve", "request": "Item", "response": "Reservation"},
     "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Release", "request": "Reservation"}}},
    {"name": "Charge", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Charge", "request": "Amount", "response": "ChargeID"},
     "timeout": "9s",
     "rollback": {"action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Refund", "request": "ChargeID"}}},
    {"name": "Ship", "action": {"kind": "rpc", "service": "ship", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true}
  ]}]}`

// An abort while a short attempt runs (docs/temporal.md, Abort of a
// running step): on Temporal the attempt, which does not heartbeat, never
// learns of it and runs to its end (5 s, its context never done); the run
// waits for it, then rolls back the completed steps, that one first, and
// ends aborted. The runtime, which runs the same flow, cancels the
// attempt's context at once: the attempt ends with its context's error and
// only Reserve is rolled back.
func TestAbortShortAttempt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	sc := script{"Card.Charge": {patient}}
	docs := []string{holdJSON}
	const runID = "run-abort-short"
	const state = `{"Item":"lamp","Amount":20}`
	key := func(step string) string { return runID + "/" + step } // runtime.IdempotencyKey of visit 1
	c := conformanceCase{flow: "Hold", state: state, then: []step{abortWhenCalled("Card.Charge")}}
	ts := newServer(t)
	for _, want := range []struct {
		side        *side
		calls       []string
		transitions []string
	}{
		{
			side: newTemporal(t, ts, "abort-short", docs, sc),
			calls: []string{
				fmt.Sprintf(`Stock.Reserve %s #1 "lamp"`, key("Reserve")),
				fmt.Sprintf(`Card.Charge %s #1 20`, key("Charge")),
				fmt.Sprintf(`Card.Refund %s #1 %q`, key("Charge/rollback"), response("Card.Charge", runID)),
				fmt.Sprintf(`Stock.Release %s #1 %q`, key("Reserve/rollback"), response("Stock.Reserve", runID)),
			},
			transitions: []string{
				"pending>Reserve:running #0 : ",
				"Reserve:running>Charge:running #1 ok: ",
				"Charge:running>aborting #1 ok: ",
				"aborting>Charge:rollback #0 : ",
				"Charge:rollback>aborting #1 ok: ",
				"aborting>Reserve:rollback #0 : ",
				"Reserve:rollback>aborting #1 ok: ",
				"aborting>aborted #0 : ",
			},
		},
		{
			side: newLocal(t, docs, sc),
			calls: []string{
				fmt.Sprintf(`Stock.Reserve %s #1 "lamp"`, key("Reserve")),
				fmt.Sprintf(`Card.Charge %s #1 20`, key("Charge")),
				fmt.Sprintf(`Stock.Release %s #1 %q`, key("Reserve/rollback"), response("Stock.Reserve", runID)),
			},
			transitions: []string{
				"pending>Reserve:running #0 : ",
				"Reserve:running>Charge:running #1 ok: ",
				"Charge:running>aborting #1 error: " + context.Canceled.Error(),
				"aborting>Reserve:rollback #0 : ",
				"Reserve:rollback>aborting #1 ok: ",
				"aborting>aborted #0 : ",
			},
		},
	} {
		got := c.run(t, want.side, runID)
		if got.Final != runtime.StateAborted {
			t.Errorf("%s: ended %s, want %s", want.side.name, got.Final, runtime.StateAborted)
		}
		if d := cmp.Diff(want.calls, got.Calls); d != "" {
			t.Errorf("%s: calls (-want +got):\n%s", want.side.name, d)
		}
		h, err := want.side.eng.History(runID)
		if err != nil {
			t.Fatal(err)
		}
		checkHistory(t, want.side.name, h, want.transitions)
	}
}
