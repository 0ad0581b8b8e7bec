package jsonflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/flowgen/flowgen/runtime"
)

// An event POST /events accepted before an await's deadline wakes the
// run, as on the engine (runtime.Wait.InTime), though the workers are down
// over the deadline, so that the run's timer has fired when they come
// back, before its inbox signals it the event. One accepted after the
// deadline does not: that run times out, and the event stays in the
// inbox for a later wait.
func TestEventAcceptedInTimeWakesTheRunAfterItsTimer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporal(t, "intime-test")
	c, x := o.c, o.x
	ctx := context.Background()
	post := func(method, path, body string, want int) { t.Helper(); o.must(t, method, path, body, want) }
	const timeout = 6 * time.Second
	post("PUT", "/flows", `{"version": 1, "flows": [{"name": "Late", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Late.Start"}], "steps": [
  {"name": "Pay", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment", "correlate": "Order", "timeout": "`+timeout.String()+`"},
   "on": [{"on": "timeout", "target": "fail"}]}]}]}`, 200)

	start := func() worker.Worker { return o.worker(t) }
	// waiting waits until run waits, registered at its inbox.
	waiting := func(run, order string) time.Time {
		t.Helper()
		inbox := inboxID(inboxKey{Topic: "payments", Event: "paid", Correlated: true, Value: order})
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			st, err := queryStatus(ctx, c, run)
			if err != nil || st.State != runtime.StateWaiting || st.Wait == nil {
				continue
			}
			if _, err := c.DescribeWorkflowExecution(ctx, inbox, ""); err == nil {
				return st.Wait.Deadline
			}
		}
		t.Fatalf("run %s does not wait at its inbox", run)
		return time.Time{}
	}
	ended := func(run string) error {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		err := c.GetWorkflow(wctx, run, "").Get(wctx, nil)
		if wctx.Err() != nil {
			t.Fatalf("run %s did not end: %v", run, err)
		}
		return err
	}

	w := start()
	post("POST", "/flows/Late/runs?run_id=in-time", `{"Order": "o1"}`, 201)
	post("POST", "/flows/Late/runs?run_id=too-late", `{"Order": "o2"}`, 201)
	d1 := waiting("in-time", "o1")
	d2 := waiting("too-late", "o2")
	w.Stop()
	post("POST", "/events/payments/paid?id=p1", `{"correlation_id": "o1", "cents": 5}`, 202)
	time.Sleep(time.Until(d2) + time.Second)
	post("POST", "/events/payments/paid?id=p2", `{"correlation_id": "o2", "cents": 7}`, 202)
	if time.Now().Before(d1) {
		t.Fatal("the workers were not down over the deadline")
	}
	w = start()
	defer w.Stop()

	if err := ended("in-time"); err != nil {
		t.Fatalf("run in-time, whose event was accepted before its deadline: %v; want done", err)
	}
	h, err := x.History(ctx, "in-time")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h); n < 2 || h[n-2].To != runtime.RunningState("Pay") || !strings.Contains(string(h[n-2].Payload), `"o1"`) || h[n-1].To != string(runtime.StateDone) {
		t.Errorf("run in-time: history %v; want Pay taking the event, then done", transitionsOf(h))
	}
	if err := ended("too-late"); err == nil {
		t.Fatal("run too-late, whose event was accepted after its deadline, ended done; want failed by its timeout")
	}
	h, err = x.History(ctx, "too-late")
	if err != nil {
		t.Fatal(err)
	}
	if !hasOutcome(h, runtime.OutcomeTimeout) {
		t.Errorf("run too-late: history %v; want its wait timed out", transitionsOf(h))
	}

	// The late event is the inbox's still: the next run of o2 takes it.
	post("POST", "/flows/Late/runs?run_id=next", `{"Order": "o2"}`, 201)
	if err := ended("next"); err != nil {
		t.Fatalf("run next, for whom the inbox kept the late event: %v; want done", err)
	}
}

func transitionsOf(h []runtime.Event) []string {
	out := make([]string, len(h))
	for i, e := range h {
		out[i] = e.From + ">" + e.To + "(" + string(e.Outcome) + ")"
	}
	return out
}

func hasOutcome(h []runtime.Event, o runtime.Outcome) bool {
	for _, e := range h {
		if e.Outcome == o {
			return true
		}
	}
	return false
}
