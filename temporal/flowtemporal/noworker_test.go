package flowtemporal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/runtime"
)

// TestQueryWithoutWorkerSaysSo reads a run that no worker serves: its
// task queue has no worker, as when the worker is not running or was
// given another queue. Temporal answers a query only through a worker of
// the run's task queue, so the read fails; it must say that and name the
// queue. Before, Status and History answered "context deadline exceeded"
// after the SDK's own 10 s, from a call whose context had not ended
// (errors.Is with context.DeadlineExceeded false), and the same words,
// with no reason, when the caller's deadline passed.
func TestQueryWithoutWorkerSaysSo(t *testing.T) {
	c, run := unservedRun(t, "unserved-1")
	ctx := context.Background()
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), "unserved-1", "", "test over") })

	// The SDK's own deadline: ctx has none.
	_, err := run.Status(ctx)
	if err == nil || !strings.Contains(err.Error(), `no worker of task queue "unserved" answered`) {
		t.Errorf("Status of a run no worker serves: %v, want it to say no worker of task queue %q answered", err, "unserved")
	}
	// The caller's deadline: the reason is given, and ctx's error wrapped.
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = run.History(short)
	if err == nil || !strings.Contains(err.Error(), "no worker of the run's task queue answered") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("History of a run no worker serves, past its context's deadline: %v, want it to say no worker answered and wrap context.DeadlineExceeded", err)
	}
}

// TestAbortWithoutWorkerSaysSo aborts a run that no worker serves: the
// run decides an abort in its workflow, so the abort waits for a worker
// until its context ends, and then says why, naming the queue, where it
// said "context deadline exceeded" alone.
func TestAbortWithoutWorkerSaysSo(t *testing.T) {
	c, run := unservedRun(t, "unserved-3")
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), "unserved-3", "", "test over") })
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := run.Abort(short)
	if err == nil || !strings.Contains(err.Error(), `no worker of task queue "unserved" took the abort`) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Abort of a run no worker serves: %v, want it to say no worker of task queue %q took it and wrap context.DeadlineExceeded", err, "unserved")
	}
}

// TestStatusOfRunEndedBeforeAnyWorker reads a run whose workflow was
// terminated before any worker ran it (started on a queue no worker
// polls, then terminated by hand): its status is the end Wait reads,
// failed and saying so, as for any run ended outside flowgen. Before,
// Status answered Temporal's "Workflow execution closed before
// WorkflowTaskStarted event", the query's, and no status.
func TestStatusOfRunEndedBeforeAnyWorker(t *testing.T) {
	c, run := unservedRun(t, "unserved-2")
	ctx := context.Background()
	must(t, c.TerminateWorkflow(ctx, "unserved-2", "", "started on the wrong queue"))
	st, err := run.Status(ctx)
	if err != nil {
		t.Fatalf("Status of a run terminated before any worker ran it: %v", err)
	}
	if st.State != runtime.StateFailed || st.RunID != "unserved-2" || st.Flow != "Hold" || !strings.Contains(st.Err, "terminated outside flowgen") {
		t.Errorf("Status of a run terminated before any worker ran it: %+v, want run unserved-2 of Hold failed, terminated outside flowgen", st)
	}
	res, _ := run.Wait(ctx)
	if res.Final != st.State {
		t.Errorf("Wait reads %s, Status %s", res.Final, st.State)
	}
}

// unservedRun starts run id of flow Hold on a server whose one worker
// polls another task queue than the run's, and returns the client.
func unservedRun(t *testing.T, id string) (client.Client, *Run[paid]) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	c := onServer(t, holdFlow(t), "served")
	run, err := Start(context.Background(), c, "Hold", paid{}, client.StartWorkflowOptions{ID: id, TaskQueue: "unserved"})
	must(t, err)
	return c, run
}
