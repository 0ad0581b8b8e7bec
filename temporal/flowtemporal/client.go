package flowtemporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

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
// the runtime's Start refuses (runtime.CheckRunID: one with an '@', which
// only a call's child workflow has) is refused too.
func Start[S any](ctx context.Context, c client.Client, flow string, state S, opts client.StartWorkflowOptions) (*Run[S], error) {
	if err := runtime.CheckRunID(opts.ID); err != nil {
		return nil, err
	}
	if opts.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED {
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	}
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	wr, err := c.ExecuteWorkflow(ctx, opts, WorkflowName(flow), state)
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
func DeliverWith(ctx context.Context, c client.Client, runID, topic, event string, d runtime.Delivery) error {
	return c.SignalWorkflow(ctx, runID, "", SignalName(topic, event), SignalArg(d))
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
// or wrapping runtime.ErrAborted).
func (r *Run[S]) Wait(ctx context.Context) (runtime.Result[S], error) {
	res := runtime.Result[S]{RunID: r.id}
	err := r.wr.Get(ctx, &res.State)
	if err == nil {
		res.Final = runtime.StateDone
		return res, nil
	}
	end, ok, derr := endingOf(err)
	switch {
	case derr != nil:
		return res, fmt.Errorf("flowtemporal: run %s: %w (decoding its result: %v)", r.id, err, derr)
	case !ok:
		return res, err // not a run's end: the server or the workflow failed
	}
	if len(end.State) > 0 {
		if derr := json.Unmarshal(end.State, &res.State); derr != nil {
			return res, fmt.Errorf("flowtemporal: run %s: %w (decoding its final state: %v)", r.id, err, derr)
		}
	}
	res.Final, res.Err = end.Final, end.err()
	return res, res.Err
}

// Status returns the run's status, history included, from its workflow.
func (r *Run[S]) Status(ctx context.Context) (runtime.Status, error) {
	var st runtime.Status
	v, err := r.c.QueryWorkflow(ctx, r.id, "", QueryStatus)
	if err == nil {
		err = v.Get(&st)
	}
	return st, err
}

// History returns the run's events from its workflow.
func (r *Run[S]) History(ctx context.Context) ([]runtime.Event, error) {
	var h []runtime.Event
	v, err := r.c.QueryWorkflow(ctx, r.id, "", QueryHistory)
	if err == nil {
		err = v.Get(&h)
	}
	return h, err
}

// Abort cancels the run: its running step is cancelled and its completed
// steps roll back; it ends aborted (or compensation_failed).
func (r *Run[S]) Abort(ctx context.Context) error {
	return r.c.CancelWorkflow(ctx, r.id, "")
}

// Deliver sends an event to this run (see Deliver).
func (r *Run[S]) Deliver(ctx context.Context, topic, event string, payload json.RawMessage) error {
	return Deliver(ctx, r.c, r.id, topic, event, payload)
}
