package jsonflows

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/engine"
)

// noInboxEvents is a Temporal client that, while down is set, fails the
// signals of events to inboxes as an unreachable cluster does, and passes
// every other call: the cluster stops answering between the start of an
// event's run and the signal of its inbox.
type noInboxEvents struct {
	client.Client
	down *atomic.Bool
}

func (c noInboxEvents) SignalWithStartWorkflow(ctx context.Context, id, signal string, arg any, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if signal == signalInboxEvent && c.down.Load() {
		return nil, serviceerror.NewUnavailable("the test's cluster stops answering")
	}
	return c.Client.SignalWithStartWorkflow(ctx, id, signal, arg, o, wf, args...)
}

// An event that starts a run and signals an inbox, whose signal the
// cluster does not answer after the run started, answers 202, not 503:
// its publication, committed in one call before any write, makes the
// signal once the cluster answers, and the run awaiting the event takes
// it. Before, it answered 503 with the event's run started: a 5xx that
// changed something. A client's retry of the event starts no second run
// and answers the run as existing.
func TestEventPartlyWrittenAnswersTheTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	defer func(d time.Duration) { publicationDelay = d }(publicationDelay)
	publicationDelay = 0
	var down atomic.Bool
	o := newOnTemporalOf(t, "publication-test", func(c client.Client) *Executor {
		return New(noInboxEvents{c, &down}, Options{TaskQueue: "publication-test"})
	})
	c, url := o.c, o.url
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [
  {"name": "Ship", "triggers": [{"kind": "event", "topic": "payments", "event": "paid"}],
   "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]},
  {"name": "Hold", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Hold.Start"}], "steps": [
   {"name": "Pay", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment", "timeout": "1h"}, "on": [{"on": "timeout", "target": "fail"}]}]}]}`, 200)
	w := o.worker(t)
	defer w.Stop()
	o.must(t, "POST", "/flows/Hold/runs?run_id=h1", `{}`, 201)

	down.Store(true)
	status, _, answer := request(t, "POST", url+"/events/payments/paid?id=m1", `{"amount": 5}`)
	if status != 202 {
		t.Fatalf("POST /events whose inbox signal the cluster did not answer after its run started: %d %s; want 202 (its publication signals it)", status, answer)
	}
	ship := engine.EventRunID("Ship", "payments", "paid", "m1")
	if !strings.Contains(answer, ship) {
		t.Errorf("the answer %s does not name the event's run %s", answer, ship)
	}
	down.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.GetWorkflow(ctx, "h1", "").Get(ctx, nil); err != nil {
		t.Fatalf("run h1, awaiting the event POST /events accepted: %v", err)
	}
	status, _, answer = request(t, "POST", url+"/events/payments/paid?id=m1", `{"amount": 5}`)
	if status != 202 || !strings.Contains(answer, `"existing":true`) {
		t.Errorf("the event again: %d %s; want 202 with its run existing", status, answer)
	}
}
