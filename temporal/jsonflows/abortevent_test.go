package jsonflows

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/flowgen/flowgen/runtime"
)

// An event the inbox hands to a waiting run that is being aborted is not
// lost: the run takes it (the event came first) or, aborted first, gives
// it back, and the next run waiting for it takes it, as on the engine,
// where an aborted run takes no event and it stays for another wait. The
// workers are down while the abort and the event come, so that the run's
// next workflow task may see both; the abort, which the run answers
// (flowtemporal.UpdateAbort), is answered once they are back.
func TestAbortedWaitLosesNoEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporal(t, "abort-event-test")
	c, x := o.c, o.x
	ctx := context.Background()
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Hold", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Hold.Start"}], "steps": [
  {"name": "Pay", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment", "correlate": "Order", "timeout": "1h"}, "on": [{"on": "timeout", "target": "fail"}]}]}]}`, 200)
	waiting := func(run string) {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if st, err := queryStatus(ctx, c, run); err == nil && st.State == runtime.StateWaiting {
				return
			}
		}
		t.Fatalf("run %s does not wait", run)
	}
	const pairs = 3
	w := o.worker(t)
	for i := range pairs {
		order := fmt.Sprintf("o%d", i)
		o.must(t, "POST", "/flows/Hold/runs?run_id=first-"+order, `{"Order": "`+order+`"}`, 201)
		waiting("first-" + order)
		time.Sleep(500 * time.Millisecond) // registered at its inbox first
		o.must(t, "POST", "/flows/Hold/runs?run_id=second-"+order, `{"Order": "`+order+`"}`, 201)
		waiting("second-" + order)
	}
	time.Sleep(time.Second) // the second runs registered too
	w.Stop()
	aborted := make(chan string, pairs)
	for i := range pairs {
		order := fmt.Sprintf("o%d", i)
		o.must(t, "POST", "/events/payments/paid?id=p-"+order, `{"correlation_id": "`+order+`"}`, 202)
		go func() {
			resp, err := http.Post(o.url+"/runs/first-"+order+"/abort", "application/json", nil)
			if err != nil {
				aborted <- err.Error()
				return
			}
			resp.Body.Close()
			aborted <- resp.Status
		}()
	}
	w = o.worker(t)
	defer w.Stop()
	for range pairs {
		if got := <-aborted; got != "202 Accepted" {
			t.Errorf("abort: %s, want 202 Accepted", got)
		}
	}
	for i := range pairs {
		order := fmt.Sprintf("o%d", i)
		first, second := "first-"+order, "second-"+order
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		c.GetWorkflow(wctx, first, "").Get(wctx, nil)
		h, err := x.History(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		took := false
		for _, e := range h {
			took = took || (e.To == runtime.RunningState("Pay") && len(e.Payload) > 0)
		}
		err = c.GetWorkflow(wctx, second, "").Get(wctx, nil)
		cancel()
		// Still waiting, by its workflow: the server may cut the long
		// poll of Get just before wctx's deadline.
		d, derr := c.DescribeWorkflowExecution(ctx, second, "")
		if derr != nil {
			t.Fatal(derr)
		}
		timedOut := d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		switch {
		case took && !timedOut:
			t.Errorf("order %s: both runs took the event (second: %v)", order, err)
		case !took && timedOut:
			t.Errorf("order %s: the event is lost: run %s, aborted, did not take it (%v), and run %s still waits", order, first, transitionsOf(h), second)
		case !took && err != nil:
			t.Errorf("order %s: run %s: %v; want done, with the event run %s did not take", order, second, err, first)
		}
	}
}
