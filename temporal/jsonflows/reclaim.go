package jsonflows

import (
	"context"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// A run whose await times out takes its wait back from its inbox with an
// update that answers whether the inbox signalled the wait an event
// received in time (runtime.Wait.InTime), which the run then takes instead
// of timing out (flowtemporal.Options.Reclaim): the run's timer and the
// inbox's signal race once workers come back after being down over the
// deadline, where the engine judges the time the event was received.

const (
	// updateInboxReclaim takes a wait back and answers what the inbox
	// handed it (inboxReclaimed); reclaimInboxActivity asks it.
	updateInboxReclaim   = "flowgen.inbox.reclaim"
	reclaimInboxActivity = "flowgen.inbox.reclaim"
)

// inboxHanded is what an inbox keeps of an event it signalled to a
// waiting run, for the run's wait that times out (inboxReclaimed) and for
// a registration of the wait retried after it (handedBefore), for the
// retention: when it was received, and its payload's sum, not the payload,
// so that an inbox that hands many events carries little when it continues
// as new.
type inboxHanded struct {
	Received time.Time `json:"received"`
	Sum      string    `json:"sum"` // flowtemporal.EventSum
	At       time.Time `json:"at"`  // when it was signalled
}

// versionHandedWait is the change (workflow.GetVersion) after which an
// inbox refuses a registration of a wait it has handed an event
// (handedBefore): an inbox that took one before replays taking it.
const versionHandedWait = "flowgen.inbox-handed-wait"

// handedBefore reports whether the inbox signalled an event to the wait
// of key, within the retention. GetVersion is asked only then, so replays
// ask it at the same point.
func handedBefore(ctx workflow.Context, st *inboxState, key string) bool {
	_, ok := st.Handed[key]
	return ok && workflow.GetVersion(ctx, versionHandedWait, workflow.DefaultVersion, 1) != workflow.DefaultVersion
}

// inboxReclaimed answers a run whose wait timed out (updateInboxReclaim):
// whether the inbox signalled it an event received in time, and that
// event's payload's sum.
type inboxReclaimed struct {
	Signalled bool   `json:"signalled,omitempty"`
	Sum       string `json:"sum,omitempty"`
}

// reclaim takes w's wait back from the inbox st, and answers whether the
// inbox signalled it an event received in time: one received after its
// deadline is the run's to drop, as one it hears of too late.
func reclaim(st *inboxState, w inboxWait) inboxReclaimed {
	if i := slices.IndexFunc(st.Waiting, func(o inboxWait) bool { return o.Key == w.Key }); i >= 0 {
		st.Waiting = slices.Delete(st.Waiting, i, i+1)
	}
	// The record stays, for the retention: a reclaim asked again (its
	// local activity retried) gets the same answer.
	h, ok := st.Handed[w.Key]
	if !ok {
		return inboxReclaimed{}
	}
	return inboxReclaimed{Signalled: w.inTime(h.Received), Sum: h.Sum}
}

// onReclaim is flowtemporal.Options.Reclaim for JSON flows: a run whose
// wait timed out takes it back from its inbox and learns whether the inbox
// signalled it an event received in time, from a local activity (its
// result is recorded, so a replay reads the same answer).
func (x *Executor) onReclaim(ctx workflow.Context, w *runtime.Wait) (bool, string) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 0}, // until it answers
	})
	arg := inboxWait{RunID: w.RunID, Key: w.Key, Deadline: w.Deadline}
	var got inboxReclaimed
	if err := workflow.ExecuteLocalActivity(lctx, reclaimInboxActivity, keyOfWait(w), arg).Get(lctx, &got); err != nil {
		workflow.GetLogger(ctx).Error("flowgen: taking a wait back from its inbox", "run_id", w.RunID, "error", err)
	}
	return got.Signalled, got.Sum
}

// reclaimWait asks the inbox of k to take w back (updateInboxReclaim). An
// inbox that is not running holds nothing for it: it ends only when no
// run waits there.
func (x *Executor) reclaimWait(ctx context.Context, k inboxKey, w inboxWait) (inboxReclaimed, error) {
	var got inboxReclaimed
	// One update ID per wait: a retried attempt gets the answer of the
	// update the attempt before sent, if it was made.
	h, err := x.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: inboxID(k), UpdateName: updateInboxReclaim,
		UpdateID: "flowgen-reclaim-" + w.Key, Args: []any{w}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, &got)
	}
	if isNotFound(err) {
		return inboxReclaimed{}, nil
	}
	return got, err
}
