package jsonflows

import (
	"context"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
)

// POST /runs/{id}/abort of the ID of an inbox, a workflow of the
// executor's own and no run of a flow, answers 404 and changes nothing:
// the inbox keeps the events it holds. Before, it was cancelled (202),
// and with it every event it held for the runs that would wait for them.
func TestAbortOfAnInboxIsUnknown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporal(t, "abort-inbox-test")
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Hold", "triggers": [{"kind": "rpc", "endpoint": "Hold.Start"}], "steps": [
  {"name": "Pay", "action": {"kind": "await", "topic": "payments", "event": "paid", "timeout": "1h"}, "on": [{"on": "timeout", "target": "fail"}]}]}]}`, 200)
	o.must(t, "POST", "/events/payments/paid?id=p-1", `{}`, 202)
	inbox := inboxID(inboxKey{Topic: "payments", Event: "paid"})
	o.must(t, "POST", "/runs/"+inbox+"/abort", "", 404)
	d, err := o.c.DescribeWorkflowExecution(context.Background(), inbox, "")
	if err != nil {
		t.Fatal(err)
	}
	info := d.GetWorkflowExecutionInfo()
	if st := info.GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || d.GetWorkflowExtendedInfo().GetCancelRequested() {
		t.Errorf("inbox %s: %s, cancel requested %v; want running, none", inbox, st, d.GetWorkflowExtendedInfo().GetCancelRequested())
	}
}
