package jsonflows

import (
	"context"
	"strings"
	"testing"
	"time"
)

// An awaited event's message ID is applied once per inbox, not refused
// when it comes again with another payload (docs/temporal.md, Differences
// from flowgen serve): the engine answers 422 from its inbox's record of
// the ID, while POST /events on Temporal only signals the inboxes and
// answers 202. Posted again for the same correlation, the other payload is
// dropped by that inbox (the run takes the first); for another
// correlation it goes to that correlation's inbox, and its run takes it.
func TestAwaitedEventOtherPayloadPerInbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporal(t, "awaited-payload-test")
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Hold", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Hold.Start"}], "steps": [
  {"name": "Pay", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment", "correlate": "Order", "timeout": "1h"}, "on": [{"on": "timeout", "target": "fail"}]}]}]}`, 200)
	w := o.worker(t)
	defer w.Stop()
	o.must(t, "POST", "/events/payments/paid?id=p1", `{"correlation_id": "o1", "amount": 1}`, 202)
	o.must(t, "POST", "/events/payments/paid?id=p1", `{"correlation_id": "o1", "amount": 2}`, 202)
	o.must(t, "POST", "/events/payments/paid?id=p1", `{"correlation_id": "o2", "amount": 3}`, 202)
	ctx := context.Background()
	for run, want := range map[string]string{"o1": `"amount":1`, "o2": `"amount":3`} {
		o.must(t, "POST", "/flows/Hold/runs?run_id="+run, `{"Order": "`+run+`"}`, 201)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := o.c.GetWorkflow(wctx, run, "").Get(wctx, nil)
		cancel()
		if err != nil {
			t.Fatalf("run %s: %v", run, err)
		}
		h, err := o.x.History(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(h[len(h)-1].State); !strings.Contains(got, want) {
			t.Errorf("run %s ended with state %s, want the payment %s", run, got, want)
		}
	}
}
