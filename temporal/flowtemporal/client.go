package flowtemporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/flowgen/flowgen/runtime"
)

// Start starts a run of flow on Temporal with state; opts.ID is the run's
// ID (the workflow ID), and opts.TaskQueue the queue its workers poll. The
// generated StartX functions call it with their flow's name and state type.
//
// As the runtime's Start refuses a run ID its sink has, Start refuses an
// ID a workflow has, running or ended (within the namespace's retention),
// with an error wrapping runtime.ErrDuplicateRun, and leaves that run as
// it was: Temporal's defaults would answer the running run's handle,
// dropping state, or start a second run under the ended one's ID, whose
// idempotency keys (run/step) the services have seen. An
// opts.WorkflowIDReusePolicy or WorkflowIDConflictPolicy that is set is
// Temporal's to apply; Attach is the handle of a run that exists. An ID
// the runtime's Start refuses (runtime.CheckRunID: an empty or long one,
// one of other characters than a run ID's, one with an '@', which only a
// call's child workflow has) is refused too, with an error wrapping
// runtime.ErrBadRunID; an opts.ID left empty asks Temporal for one.
func Start[S any](ctx context.Context, c client.Client, flow string, state S, opts client.StartWorkflowOptions) (*Run[S], error) {
	if opts.ID != "" {
		if err := runtime.CheckRunID(opts.ID); err != nil {
			return nil, err
		}
	}
	if opts.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED {
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	}
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	wr, err := c.ExecuteWorkflow(ctx, opts, WorkflowName(flow), &state) // through a pointer, as every state (payloadlimit.go)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil, fmt.Errorf("%w: %s: %v", runtime.ErrDuplicateRun, opts.ID, err)
	}
	if err != nil {
		return nil, err
	}
	return &Run[S]{c: c, id: wr.GetID(), wr: wr}, nil
}

// Attach returns the handle of an existing run by its ID.
func Attach[S any](c client.Client, runID string) *Run[S] {
	return &Run[S]{c: c, id: runID, wr: c.GetWorkflow(context.Background(), runID, "")}
}

// Deliver sends an event to the run runID, which takes it if it awaits
// topic/event and the payload's correlation value is its own (the
// runtime's rule, runtime.Wait.Matches); an event it does not await yet
// waits in the workflow until the run gets there.
func Deliver(ctx context.Context, c client.Client, runID, topic, event string, payload json.RawMessage) error {
	return DeliverWith(ctx, c, runID, topic, event, runtime.Delivery{Payload: payload})
}

// DeliverWith is Deliver of d, whose Link (the W3C traceparent of the
// span that sent the event) the run records on the event that ends its
// wait (runtime.Event.Link), as the runtime does.
//
// A payload that is not JSON is runtime.ErrPayloadNotJSON, sent to no
// one. An ID no run has is runtime.ErrUnknownRun, and a run that is over, which
// no await of can take the event, runtime.ErrFinished, as the handle's
// other methods answer: Temporal answers "not found" to both, so a
// description tells them apart.
func DeliverWith(ctx context.Context, c client.Client, runID, topic, event string, d runtime.Delivery) (err error) {
	defer func() { err = contextEnded(ctx, err) }()
	if runtime.PayloadNotJSON(d.Payload) {
		// No await takes it (the run drops it, logged on its worker), and
		// the runtime's publishers refuse to encode it: said to the sender.
		return fmt.Errorf("%w: event %s/%s for run %q not delivered", runtime.ErrPayloadNotJSON, topic, event, runID)
	}
	err = c.SignalWorkflow(ctx, runID, "", SignalName(topic, event), SignalArg(d))
	if nf := (*serviceerror.NotFound)(nil); !errors.As(err, &nf) {
		return err
	}
	if _, derr := c.DescribeWorkflowExecution(ctx, runID, ""); derr != nil {
		return RunError(derr, runID)
	}
	return fmt.Errorf("%w: %q: event %s/%s not delivered", runtime.ErrFinished, runID, topic, event)
}

// Run is the handle of one run on Temporal.
type Run[S any] struct {
	c  client.Client
	id string
	wr client.WorkflowRun
}

// ID returns the run's ID, its workflow ID.
func (r *Run[S]) ID() string { return r.id }

// Wait waits for the run to end and returns its result, shaped as the
// runtime's: the final state and terminal state, and for a run that did not
// end done a *runtime.StepError (joined with each *runtime.RollbackError,
// or wrapping runtime.ErrAborted). A run whose workflow ended outside
// flowgen (terminated, timed out), which recorded no end, ends as Status
// reads it (EndedOutside: failed), with an error saying so that wraps
// Temporal's, and the zero state: Status has its last snapshot.
func (r *Run[S]) Wait(ctx context.Context) (_ runtime.Result[S], err error) {
	defer func() { err = contextEnded(ctx, err) }()
	res := runtime.Result[S]{RunID: r.id}
	err = r.wr.Get(ctx, &res.State)
	if err == nil {
		res.Final = runtime.StateDone
		return res, nil
	}
	end, ok, derr := endingOf(err)
	switch {
	case derr != nil:
		return res, fmt.Errorf("flowtemporal: run %s: %w (decoding its result: %v)", r.id, err, derr)
	case !ok:
		// Not a run's end: a workflow ended outside flowgen (terminated,
		// timed out), read as Status reads it; no such run
		// (runtime.ErrUnknownRun, as the runtime's Flow.Status answers);
		// or the server failed.
		if end, why := r.endedOutside(ctx, err); end != "" {
			res.Final, res.Err = end, fmt.Errorf("%s: %w", why, err)
			return res, res.Err
		}
		return res, RunError(err, r.id)
	}
	if len(end.State) > 0 {
		if derr := json.Unmarshal(end.State, &res.State); derr != nil {
			return res, fmt.Errorf("flowtemporal: run %s: %w (decoding its final state: %v)", r.id, err, derr)
		}
	}
	res.Final, res.Err = end.Final, end.err()
	return res, res.Err
}

// endedOutside is the end EndedOutside reads for a workflow whose Get
// answered err, an end that is not a run's (no ending in its details):
// one terminated or timed out from outside flowgen. It describes the
// workflow only then; "" for any other error, or when that fails.
func (r *Run[S]) endedOutside(ctx context.Context, err error) (runtime.RunState, string) {
	var wee *temporal.WorkflowExecutionError
	if !errors.As(err, &wee) {
		return "", ""
	}
	d, derr := r.c.DescribeWorkflowExecution(ctx, r.id, "")
	if derr != nil {
		return "", ""
	}
	return EndedOutside(d.GetWorkflowExecutionInfo())
}

// Status returns the run's status, history included: the runtime's
// Replay of its history (History), as the flowgen.status query answers it
// for a history that fits in a query's answer. A query is answered by a
// worker of the run's task queue (replaying the run), so it fails while
// none is running, even for a run that ended. An ID no run has is
// runtime.ErrUnknownRun, as for the runtime's Flow.Status. A run whose
// history is not over though its workflow is (terminated or timed out
// from outside flowgen) reads the end EndedOutside says
// (runtime.Status.EndedOutside), as lists of runs read it; so does one
// whose workflow ended before any worker ran it, with no history (no
// worker can answer its query).
func (r *Run[S]) Status(ctx context.Context) (_ runtime.Status, err error) {
	defer func() { err = contextEnded(ctx, err) }()
	h, err := r.History(ctx)
	var nr *serviceerror.WorkflowNotReady
	if errors.As(err, &nr) {
		// Temporal answers so the query of a workflow that ended before
		// any worker completed a task of it (terminated, or timed out,
		// while no worker polled its queue): a run that recorded
		// nothing, whose end only the workflow's description says.
		if st, ok := r.endedUnrecorded(ctx); ok {
			return st, nil
		}
	}
	if err != nil {
		return runtime.Status{}, err
	}
	st, err := runtime.Replay(h)
	if err != nil || st.State.Terminal() {
		return st, err
	}
	d, err := r.c.DescribeWorkflowExecution(ctx, r.id, "")
	if err != nil {
		return runtime.Status{}, RunError(err, r.id)
	}
	if end, why := EndedOutside(d.GetWorkflowExecutionInfo()); end != "" {
		st.EndedOutside(end, why)
	}
	return st, nil
}

// endedUnrecorded is the status of a run whose workflow is over though
// it recorded no event: the end EndedOutside reads, no history. false for
// a workflow still running, or one that cannot be described.
func (r *Run[S]) endedUnrecorded(ctx context.Context) (runtime.Status, bool) {
	d, err := r.c.DescribeWorkflowExecution(ctx, r.id, "")
	if err != nil {
		return runtime.Status{}, false
	}
	info := d.GetWorkflowExecutionInfo()
	end, why := EndedOutside(info)
	if end == "" {
		return runtime.Status{}, false
	}
	st := runtime.Status{RunID: r.id, Flow: info.GetType().GetName()}
	st.EndedOutside(end, why)
	return st, true
}

// History returns the run's events from its workflow, in pages
// (QueryHistoryOf), answered by a worker of the run's task queue, as for
// Status.
func (r *Run[S]) History(ctx context.Context) ([]runtime.Event, error) {
	return QueryHistoryOf(ctx, r.c, r.id)
}

// Abort aborts the run, as the runtime's Run.Abort: its running step is
// cancelled and its completed steps roll back; it ends aborted (or
// compensation_failed). It returns an error wrapping runtime.ErrFinished
// for a run that is over, and runtime.ErrUnknownRun for an ID no run has.
// An abort of a run rolling back after a failure changes nothing (the
// rollback finishes) and, as on the runtime, answers nil:
// AbortUnlessRollingBack tells the two apart.
func (r *Run[S]) Abort(ctx context.Context) error {
	if err := r.AbortUnlessRollingBack(ctx); !errors.Is(err, runtime.ErrRollingBack) {
		return err
	}
	return nil // as runtime.Run.Abort: the rollback finishes, the abort changes nothing
}

// AbortUnlessRollingBack is Abort, except that a run that has entered its
// rollback after a failure refuses the abort, changing nothing, with an
// error wrapping runtime.ErrRollingBack, as the runtime's
// Run.AbortUnlessRollingBack: the run itself answers (AbortRun), so a nil
// error means it took the abort and ends aborted (or
// compensation_failed). A run whose worker runs code older than the abort
// update is cancelled, as before it, and answers nil whether or not it was
// entering its rollback.
func (r *Run[S]) AbortUnlessRollingBack(ctx context.Context) error {
	return AbortRun(ctx, r.c, r.id, nil)
}

// AbortRun aborts run runID in the runtime's terms: an error wrapping
// runtime.ErrUnknownRun when no workflow has the ID, and
// runtime.ErrFinished when it is over (Temporal itself answers the
// cancellation of an ended workflow with success, which would tell the
// caller an abort was taken that changes nothing). check, if not nil,
// sees the workflow's description first and may refuse the abort with its
// error (jsonflows: a workflow that is no run). Then the run decides, in
// its workflow, with an update (UpdateAbort): nil when it took the abort,
// runtime.ErrRollingBack or runtime.ErrFinished when it refused it. The
// update needs a worker of the run's task queue, as a query does: it waits
// for one until ctx ends, and one that comes after ctx's deadline refuses
// it (AbortUpdate.Until). A workflow whose worker runs code older than the
// update is cancelled, as before it: whether it then ends aborted is the
// run's (one that was entering its rollback ends compensated).
func AbortRun(ctx context.Context, c client.Client, runID string, check func(*workflowpb.WorkflowExecutionInfo) error) (err error) {
	defer func() { err = contextEnded(ctx, err) }()
	d, err := c.DescribeWorkflowExecution(ctx, runID, "")
	if err != nil {
		return RunError(err, runID)
	}
	info := d.GetWorkflowExecutionInfo()
	if check != nil {
		if err := check(info); err != nil {
			return err
		}
	}
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		// Named by the end the run recorded, as the runtime names it, not
		// by Temporal's status ("canceled" for an aborted run, "failed"
		// for a compensated one).
		st, _ := StateOf(info)
		return fmt.Errorf("%w: %q is %s", runtime.ErrFinished, runID, st)
	}
	if err := abortUpdate(ctx, c, runID); !errors.Is(err, errNoAbortUpdate) {
		if err != nil && ctx.Err() != nil {
			// The update waited for a worker until ctx ended: without the
			// reason the caller read "context deadline exceeded" alone.
			return fmt.Errorf("flowtemporal: run %q: no worker of task queue %q took the abort before the context ended (the run decides an abort in its workflow, which needs a running worker of its task queue): %w",
				runID, d.GetExecutionConfig().GetTaskQueue().GetName(), err)
		}
		return err
	}
	err = c.CancelWorkflow(ctx, runID, "")
	if nf := (*serviceerror.NotFound)(nil); errors.As(err, &nf) {
		// Temporal cancels running workflows only: found running a moment
		// ago, this one has ended since.
		return fmt.Errorf("%w: %q ended", runtime.ErrFinished, runID)
	}
	return err
}

// RunError maps Temporal's "not found" for the workflow of run runID to
// runtime.ErrUnknownRun; any other error is returned as it is.
func RunError(err error, runID string) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
	}
	return err
}

// Deliver sends an event to this run (see Deliver).
func (r *Run[S]) Deliver(ctx context.Context, topic, event string, payload json.RawMessage) error {
	return Deliver(ctx, r.c, r.id, topic, event, payload)
}
