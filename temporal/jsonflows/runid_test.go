package jsonflows

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/api/serviceerror"

	"github.com/flowgen/flowgen/engine"
)

// A run ID a caller chooses may not be the workflow ID of an inbox or of a
// schedule's run, which the executor makes itself: a run that took an
// inbox's ID first would be signalled the inbox's events and waits (a
// signal-with-start signals the workflow running under the ID, whatever
// its type), so the runs awaiting that correlation would never hear of
// their event; one that took a tick's ID would make the tick fail to start
// its run. The engine refuses its own forms (engine.CheckRunID); the
// executor refuses these with the same error (400), before anything
// starts.
func TestRunIDOfTheExecutorsOwnForms(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporal(t, "runid-test")
	if status, _, answer := request(t, "PUT", o.url+"/flows", `{"version": 1, "flows": [{"name": "Nap", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Nap.Start"}], "steps": [
  {"name": "Sleep", "action": {"kind": "sleep", "duration": "1h"}}]}]}`); status != 200 {
		t.Fatalf("PUT /flows: %d %s", status, answer)
	}
	inbox := inboxID(inboxKey{Topic: "payments", Event: "paid", Correlated: true, Value: "o1"})
	for _, id := range []string{inbox, scheduleID("Nap", "@every 1h"), scheduleID("Nap", "@every 1h") + "-2026-01-01T00:00:00Z"} {
		status, _, answer := request(t, "POST", o.url+"/flows/Nap/runs?run_id="+id, `{}`)
		if status != 400 {
			t.Errorf("run_id %s: %d %s; want 400", id, status, answer)
		}
		if _, err := o.c.DescribeWorkflowExecution(context.Background(), id, ""); !errors.As(err, new(*serviceerror.NotFound)) {
			t.Errorf("run_id %s: a workflow of that ID: %v", id, err)
		}
		if err := New(o.c, Options{}).Start(context.Background(), engine.ExecFlow{Name: "Nap"}, []byte(`{}`), id); !errors.Is(err, engine.ErrBadName) {
			t.Errorf("Start(%s) = %v, want engine.ErrBadName", id, err)
		}
	}
}
