package order

import (
	"context"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/replay"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// These tests run the generated workflows on a real Temporal server,
// started in the process (temporaltest).

const taskQueue = "flowgen-order"

func startServer(t *testing.T, register func(worker.Registry)) client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t, temporaltest.WithBaseWorkerOptions(flowtemporal.WorkerOptions(worker.Options{})))
	ts.NewWorker(taskQueue, register)
	return ts.GetDefaultClient()
}

// A run through the client API: the block, the child workflow (whose
// first event names its parent, from the memo the parent gives it), the
// receipt in the result.
func TestServerOrderDone(t *testing.T) {
	w := &world{}
	o := w.order(t)
	c := startServer(t, o.Register)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := StartOrder(ctx, c, OrderState{Items: []string{"book"}, Invoice: Invoice{Amount: 40, SettleAt: time.Now()}},
		client.StartWorkflowOptions{ID: "o-1", TaskQueue: taskQueue})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(ctx)
	if err != nil || res.Final != runtime.StateDone || res.State.Receipt.Charge != "ch-40" || res.State.Reservation != "res-book" {
		t.Fatalf("result %+v, %v", res, err)
	}
	st, err := run.Status(ctx)
	if err != nil || len(st.Children) != 1 || st.Children[0].RunID != "o-1@Bill" || len(st.Branches) != 2 {
		t.Fatalf("status %+v, %v", st, err)
	}
	child, err := flowtemporal.Attach[Invoice](c, "o-1@Bill").History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := child[0].Parent; p == nil || *p != (runtime.RunRef{Flow: "Order", RunID: "o-1"}) {
		t.Errorf("child's first event %+v: no parent", child[0])
	}
	replayRuns(t, c, o, w.sink, "o-1", "o-1@Bill")
}

// On a server a branch still running when another fails is cancelled for
// real (its heartbeat brings the cancellation; the block waits for it):
// Reserve sees its context end and does not complete, so nothing is
// rolled back.
func TestServerBranchCancelled(t *testing.T) {
	w := &world{authFail: true, reserving: make(chan struct{}), slowRes: time.Minute}
	o := w.order(t)
	c := startServer(t, o.Register)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := StartOrder(ctx, c, OrderState{Items: []string{"book"}}, client.StartWorkflowOptions{ID: "o-2", TaskQueue: taskQueue})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := run.Wait(ctx)
	if res.Final != runtime.StateFailed {
		t.Fatalf("result %+v", res)
	}
	if got := w.journal(); !slices.Contains(got, "cancelled Reserve o-2/Reserve") {
		t.Errorf("journal %q: Reserve was not cancelled before the run ended", got)
	}
	replayRuns(t, c, o, w.sink, "o-2")
}

// An abort while the child sleeps: the child is cancelled and uncharges,
// then the order rolls back its branches; both end aborted.
func TestServerAbortDuringChild(t *testing.T) {
	w := &world{}
	o := w.order(t)
	c := startServer(t, o.Register)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := StartOrder(ctx, c, OrderState{Items: []string{"book"}, Invoice: Invoice{Amount: 40, SettleAt: time.Now().Add(time.Hour)}},
		client.StartWorkflowOptions{ID: "o-3", TaskQueue: taskQueue})
	if err != nil {
		t.Fatal(err)
	}
	child := flowtemporal.Attach[Invoice](c, "o-3@Bill")
	for {
		st, err := child.Status(ctx)
		if err == nil && st.State == runtime.StateWaiting {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the child never waited")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := run.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	res, _ := run.Wait(ctx)
	if res.Final != runtime.StateAborted {
		t.Fatalf("result %+v", res)
	}
	cres, _ := child.Wait(ctx)
	if cres.Final != runtime.StateAborted {
		t.Errorf("child %+v", cres)
	}
	got := w.journal()
	if len(got) != 6 || got[3] != "Uncharge ch-40 o-3@Bill/Charge/rollback" {
		t.Errorf("journal %q: want the uncharge before the order's rollbacks", got)
	}
	replayRuns(t, c, o, w.sink, "o-3", "o-3@Bill")
}

// replayRuns replays the server's history of each workflow with the flows'
// workflow code: a parallel block's goroutines and a call's child must
// make the same decisions again (no nondeterminism), as a worker that
// takes a run over after a crash replays it. The flows' sink hears
// nothing of a replay (docs/temporal.md, "The sink"): it holds the same
// events after as before.
func replayRuns(t *testing.T, c client.Client, o *OrderTemporal, sink *runtime.MemorySink, ids ...string) {
	t.Helper()
	r := replay.New()
	o.Register(r)
	before := map[string]int{}
	for _, id := range ids {
		before[id] = len(sink.History(id))
	}
	defer func() {
		for _, id := range ids {
			if n := len(sink.History(id)); n != before[id] {
				t.Errorf("the sink got %d events of %s from its replay", n-before[id], id)
			}
		}
	}()
	for _, id := range ids {
		it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		h := &historypb.History{}
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			h.Events = append(h.Events, e)
		}
		if err := r.Run(id, h); err != nil {
			t.Errorf("replaying %s: %v", id, err)
		}
	}
}
