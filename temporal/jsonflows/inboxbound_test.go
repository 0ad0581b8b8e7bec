package jsonflows

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// An inbox holds at most Options.InboxBytes: with no worker running (the
// events unread in its history), POST /events refuses the event that
// would pass the bound with 429 and Retry-After, in the engine's words,
// and writes nothing to the inbox; once runs have taken the events held,
// the same event is accepted. Before, an inbox took whatever its
// retention let in, until the input of its next run passed the cluster's
// payload limit and Temporal terminated it, the events with it.
func TestInboxBytesBound(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporalOf(t, "inbox-bound-test", func(c client.Client) *Executor {
		return New(c, Options{TaskQueue: "inbox-bound-test", InboxBytes: 16 << 10})
	})
	c, url := o.c, o.url
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Hold", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Hold.Start"}], "steps": [
  {"name": "Pay", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment", "timeout": "1h"}, "on": [{"on": "timeout", "target": "fail"}]}]}]}`, 200)
	pad := strings.Repeat("x", 2<<10)
	post := func(i int) (int, string, string) {
		status, h, answer := request(t, "POST", fmt.Sprintf("%s/events/payments/paid?id=p%d", url, i), fmt.Sprintf(`{"n": %d, "pad": %q}`, i, pad))
		return status, h.Get("Retry-After"), answer
	}
	accepted := 0
	for ; ; accepted++ {
		status, retry, answer := post(accepted)
		if status == 202 {
			if accepted == 20 {
				t.Fatalf("20 events of 2 KiB accepted by an inbox bounded at 16 KiB")
			}
			continue
		}
		if status != 429 || retry == "" || !strings.Contains(answer, "inbox is full") {
			t.Fatalf("event %d past the bound: %d (Retry-After %q) %s; want 429 with Retry-After, saying the inbox is full", accepted, status, retry, answer)
		}
		break
	}
	if accepted == 0 {
		t.Fatal("an empty inbox refused an event of 2 KiB")
	}
	ctx := context.Background()
	inbox := inboxID(inboxKey{Topic: "payments", Event: "paid"})
	before, err := c.DescribeWorkflowExecution(ctx, inbox, "")
	if err != nil {
		t.Fatal(err)
	}
	if status, _, answer := post(accepted); status != 429 {
		t.Fatalf("the refused event again: %d %s", status, answer)
	}
	after, err := c.DescribeWorkflowExecution(ctx, inbox, "")
	if err != nil {
		t.Fatal(err)
	}
	if b, a := before.GetWorkflowExecutionInfo().GetHistoryLength(), after.GetWorkflowExecutionInfo().GetHistoryLength(); a != b {
		t.Errorf("a refused event wrote to the inbox: its history went from %d to %d events", b, a)
	}

	// Runs take the events held: the room comes back.
	w := o.worker(t)
	defer w.Stop()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for i := range accepted {
		run := fmt.Sprint("r", i)
		o.must(t, "POST", "/flows/Hold/runs?run_id="+run, `{}`, 201)
		if err := c.GetWorkflow(wctx, run, "").Get(wctx, nil); err != nil {
			t.Fatalf("run %s: %v", run, err)
		}
	}
	// The inbox gives its room back as it continues as new, after it
	// signalled the last run: until then the event is refused, and
	// changes nothing.
	for {
		status, _, answer := post(accepted)
		if status == 202 {
			break
		}
		if status != 429 || wctx.Err() != nil {
			t.Fatalf("the refused event once runs took every event held: %d %s; want 202", status, answer)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
