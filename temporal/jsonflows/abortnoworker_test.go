package jsonflows

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// POST /runs/{id}/abort with no worker running answers 503 at the
// answer bound and changes nothing: the abort Update the cluster admitted
// reaches the run when a worker comes back, after its caller's deadline
// (flowtemporal.AbortUpdate.Until), and the run refuses it, leaving
// nothing in its history; the abort sent then is the one it takes.
func TestAbortWithoutWorkerChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	const queue = "abort-no-worker"
	c := testserver.New(t).GetDefaultClient()
	x := New(c, Options{TaskQueue: queue, Answer: 3 * time.Second})
	e, url := serveEngine(t, engine.Options{Executor: x, FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: engine.JSONOnly})
	o := &onTemporal{c: c, x: x, e: e, url: url, queue: queue}
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Nap", "triggers": [{"kind": "rpc", "endpoint": "Nap.Start"}], "steps": [
  {"name": "Nap", "action": {"kind": "sleep", "duration": "1h"}}]}]}`, 200)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := o.worker(t)
	o.must(t, "POST", "/flows/Nap/runs?run_id=nap", `{}`, 201)
	waiting := func() {
		t.Helper()
		for ctx.Err() == nil {
			st, err := queryStatus(ctx, c, "nap")
			switch {
			case err == nil && st.State == runtime.StateWaiting:
				return
			case err == nil && st.State.Terminal():
				t.Fatalf("the run ended %s, want it waiting", st.State)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("the run does not wait")
	}
	waiting()
	w.Stop()
	o.must(t, "POST", "/runs/nap/abort", "", 503)
	defer o.worker(t).Stop()
	waiting()
	// A worker is back: an abort now is taken (202), in the workflow task
	// that carries the Update the cluster kept, or after it. The run took
	// one abort, not two.
	o.must(t, "POST", "/runs/nap/abort", "", 202)
	if err := c.GetWorkflow(ctx, "nap", "").Get(ctx, nil); err == nil {
		t.Fatal("the run ended done, want aborted")
	}
	if st, err := queryStatus(ctx, c, "nap"); err != nil || st.State != runtime.StateAborted {
		t.Fatalf("the run ended %s (%v), want aborted", st.State, err)
	}
	accepted := 0
	for it := c.GetWorkflowHistory(ctx, "nap", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT); it.HasNext(); {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED {
			accepted++
		}
	}
	if accepted != 1 {
		t.Errorf("the run took %d abort updates, want 1: the one answered 503 changed the run", accepted)
	}
}
