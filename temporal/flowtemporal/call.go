package flowtemporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// Calls on Temporal. A call step (`call Billing (Invoice) -> Receipt`,
// runtime.NewCall) runs the called flow's workflow as a child workflow
// whose workflow ID is the child run ID the runtime gives it
// (runtime.ChildRunID), started with the call's input and awaited in the
// step's waiting state; a rollback call does the same in a rollback, one
// child per attempt. The child's first event names its parent
// (Event.Parent), from the memo MemoParent the parent gives it.

// childWorkflows is the definition's ChildRuns (Awaits): its calls are
// child workflows the workflow starts, never child runs of the runtime.
type childWorkflows struct{}

var errChildWorkflows = errors.New("flowtemporal: this flow's calls are Temporal child workflows; it does not run on the runtime")

func (childWorkflows) AttachChild(context.Context, string, string, runtime.RunRef, func() any, func(runtime.RunEnd)) (func() error, error) {
	return nil, errChildWorkflows
}

// MemoParent is the memo field of a child workflow naming the run whose
// call started it (a runtime.RunRef).
const MemoParent = "flowgen.parent"

// parentOf is the run whose call started the workflow of ctx, or nil.
func parentOf(ctx workflow.Context) *runtime.RunRef {
	info := workflow.GetInfo(ctx)
	return ParentOf(info.ParentWorkflowExecution != nil, info.Memo)
}

// startChild starts child run ref of the run with input (nil: the
// child's zero state). Cancelling ctx asks the child to abort, and the
// returned future waits for its end, compensation included. A parent that
// is terminated asks it to abort too.
func (r *wfRun[S]) startChild(ctx workflow.Context, ref runtime.RunRef, input any) (workflow.ChildWorkflowFuture, error) {
	memo := map[string]any{}
	arg := input
	if children := r.f.opts.Children; children != nil {
		var err error
		var extra map[string]any
		if arg, extra, err = children(ctx, ref.Flow, input); err != nil {
			// No child workflow: the run's events do not name it.
			return nil, fmt.Errorf("%w: %q of flow %q: %w", runtime.ErrChildNotStarted, ref.RunID, ref.Flow, err)
		}
		maps.Copy(memo, extra)
	}
	memo[MemoParent] = runtime.RunRef{Flow: r.f.ID(), RunID: r.id}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:          ref.RunID,
		WaitForCancellation: true,
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		Memo:                memo,
	})
	return workflow.ExecuteChildWorkflow(cctx, WorkflowName(ref.Flow), runtime.Addressed(arg)), nil
}

// childEnd waits for child run ref to end and returns its final state
// (JSON), or a *runtime.ChildError with how it ended: a child that did not
// end done has compensated itself.
func (r *wfRun[S]) childEnd(fut workflow.Future, ref runtime.RunRef) (json.RawMessage, error) {
	dctx, _ := workflow.NewDisconnectedContext(r.ctx)
	var final json.RawMessage
	err := fut.Get(dctx, &final)
	if err == nil {
		return final, nil
	}
	if end, ok, _ := endingOf(err); ok {
		return nil, &runtime.ChildError{Child: ref, Final: end.Final, Err: end.err()}
	}
	// Not a run's end: it could not start, or was terminated or timed out.
	return nil, &runtime.ChildError{Child: ref, Final: runtime.StateFailed, Err: err}
}

// call runs call step st's child, named by wait w, and waits for its end:
// a child that ended done gives its final state as the payload (even when
// the run was aborted meanwhile: a completed call); any other end fails
// the step with outcome "error", or aborts the run when the run was
// aborted (cancelling the run asked the child to abort first).
func (r *wfRun[S]) call(st *runtime.Step[S], w *runtime.Wait) (payload []byte, out runtime.Outcome, err error, aborted bool) {
	var input any
	if st.Call.Input != nil {
		input = st.Call.Input(&r.state)
	}
	fut, err := r.startChild(r.ctx, *w.Child, input)
	if err != nil {
		return nil, runtime.OutcomeError, runtime.Permanent(err), false
	}
	final, err := r.childEnd(fut, *w.Child)
	switch {
	case err == nil:
		return final, "", nil, false
	case r.ctx.Err() != nil:
		return nil, "", nil, true
	}
	return nil, runtime.OutcomeError, runtime.Permanent(err), false
}

// rollbackCall runs the rollback call of visit of step st: each attempt a
// child of its own (runtime.ChildRunID with the attempt), bounded by the
// rollback's timeout (past it the child is asked to abort), retried by its
// retry policy after the policy's backoff (no jitter, as for activities),
// each failed attempt but the last recorded as a retry naming its child. It
// returns the last attempt and its child.
//
// The event that starts an attempt (the one entering the rollback, given
// as enter, or the retry before the next attempt) names the attempt's
// child in its Wait, as on the runtime, so the run's status shows what its
// rollback waits for, and its children include the child, from the start.
func (r *wfRun[S]) rollbackCall(ctx workflow.Context, st *runtime.Step[S], visit int, enter func(edit func(*runtime.Event))) (int, *runtime.RunRef, error) {
	rc := st.RollbackCall()
	attempts := max(st.RollbackRetry.Attempts, 1)
	child := func(attempt int) runtime.RunRef {
		return runtime.RunRef{Flow: rc.Flow, RunID: runtime.ChildRunID(runtime.Key{RunID: r.id, Step: st.ID, Visit: max(visit, 1), Rollback: true}, attempt)}
	}
	// waitFor is the Wait of attempt's child, whose timer starts after
	// wait (the backoff before a retry).
	waitFor := func(attempt int, wait time.Duration) *runtime.Wait {
		ref := child(attempt)
		w := &runtime.Wait{Child: &ref}
		if st.RollbackTimeout > 0 {
			w.Deadline = workflow.Now(r.ctx).UTC().Add(wait + st.RollbackTimeout)
		}
		return w
	}
	enter(func(e *runtime.Event) { e.Wait = waitFor(1, 0) })
	for attempt := 1; ; attempt++ {
		ref := child(attempt)
		var input any
		if rc.Input != nil {
			input = rc.Input(&r.state)
		}
		err := r.rollbackChild(ctx, ref, input, st.RollbackTimeout)
		if err == nil || attempt >= attempts {
			return attempt, &ref, err
		}
		backoff := runtime.BackoffCeiling(st.RollbackRetry, attempt)
		r.emit(r.machine, attempt, runtime.OutcomeRetry, err, func(e *runtime.Event) { e.Child, e.Wait = startedChild(&ref, err), waitFor(attempt+1, backoff) })
		if err := workflow.Sleep(ctx, backoff); err != nil {
			return attempt, &ref, err
		}
	}
}

// startedChild is child, the child run of a call's wait or a rollback
// call's attempt that ended with err, as the event that ends it names it:
// nil when it was never started (runtime.ErrChildNotStarted), as on the
// runtime, so that the run's status lists no child that does not exist.
func startedChild(child *runtime.RunRef, err error) *runtime.RunRef {
	if errors.Is(err, runtime.ErrChildNotStarted) {
		return nil
	}
	return child
}

// rollbackChild runs one attempt of a rollback call: child ref, started
// with input, asked to abort past timeout (0: none).
func (r *wfRun[S]) rollbackChild(ctx workflow.Context, ref runtime.RunRef, input any, timeout time.Duration) error {
	cctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	fut, err := r.startChild(cctx, ref, input)
	if err != nil {
		return err
	}
	timedOut := false
	if timeout > 0 {
		tctx, stopTimer := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(tctx, timeout), func(f workflow.Future) {
			if f.Get(tctx, nil) == nil {
				timedOut = true
				cancel()
			}
		})
		sel.AddFuture(fut, func(workflow.Future) {})
		sel.Select(ctx)
		stopTimer()
	}
	_, err = r.childEnd(fut, ref)
	if err != nil && timedOut {
		// The child ended aborted, asked to: the runtime's error, which
		// says why (the child's end is in its own history).
		err = runtime.RollbackCallTimeout(timeout)
	}
	return err
}
