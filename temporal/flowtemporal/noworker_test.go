package flowtemporal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
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
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	c := onServer(t, holdFlow(t), "served")
	ctx := context.Background()
	run, err := Start(ctx, c, "Hold", paid{}, client.StartWorkflowOptions{ID: "unserved-1", TaskQueue: "unserved"})
	must(t, err)
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), "unserved-1", "", "test over") })

	// The SDK's own deadline: ctx has none.
	_, err = run.Status(ctx)
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
