package flowtemporal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// An abort is decided by the run itself, in its workflow (UpdateAbort), in
// the order of its own moves, as the runtime's Run.AbortUnlessRollingBack
// decides it under the lock the run enters its rollback with: a run that
// has entered its rollback after a failure refuses it (runtime.ErrRollingBack),
// since the rollback finishes whatever happens; one that is over refuses it
// (runtime.ErrFinished); any other takes it and ends aborted. A
// cancellation of the workflow, decided from a description of it, could
// be answered as taken for a run that had entered its rollback since, and
// then ended compensated.

// AbortUpdate is the argument of UpdateAbort.
type AbortUpdate struct {
	// Until, if set, is when the caller stops waiting for the answer: a
	// run the update reaches later (by the cluster's clock: its workflow
	// task's start) refuses it, so that an abort whose caller gave up,
	// answered an error, changes nothing. Temporal keeps an update it
	// admitted until a worker takes it, however long after.
	Until time.Time `json:"until,omitzero"`
}

// abortMargin is how long before its deadline a caller asks the run to
// answer (AbortUpdate.Until), at most: the time for the answer to come
// back, and the clocks of the caller and the cluster to differ.
const abortMargin = time.Second

// takeAborts sets the workflow's handler of UpdateAbort.
func (r *wfRun[S]) takeAborts(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateAbort, func(ctx workflow.Context, u AbortUpdate) error {
		// Checked again: the run may have moved since the validator ran.
		// Nothing yields between the check and the cancellation, so the
		// run enters its rollback before both or after both.
		if err := r.refusesAbort(u); err != nil {
			return err
		}
		if r.ctx.Err() != nil {
			return nil // taken already
		}
		r.abortNow()
		if err := workflow.UpsertMemo(r.ctx, map[string]any{MemoAbortRequested: true}); err != nil {
			workflow.GetLogger(r.ctx).Error("flowgen: recording the abort in the run's memo", "run_id", r.id, "error", err)
		}
		return nil
	}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, u AbortUpdate) error {
		// A refusal here leaves nothing in the workflow's history.
		return r.refusesAbort(u)
	}})
}

// refusesAbort is the error the run refuses an abort with, or nil: the
// runtime's rule (runtime.RunState.TakesAbort), where a run rolling back
// after an abort has taken one already.
func (r *wfRun[S]) refusesAbort(u AbortUpdate) error {
	st, _ := runtime.RunStateOf(r.machine)
	var err error
	switch {
	case st.Terminal():
		err = fmt.Errorf("%w: %q is %s", runtime.ErrFinished, r.id, st)
	case r.cause != nil: // set as the run enters failing (fail)
		err = fmt.Errorf("%w: run %q", runtime.ErrRollingBack, r.id)
	case !u.Until.IsZero() && workflow.Now(r.ctx).After(u.Until):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("flowgen: run %q: the abort came after its caller's deadline (%s)", r.id, u.Until.UTC().Format(time.RFC3339Nano)), errTypeAbortLate, nil)
	default:
		return nil
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), errTypeAbortRefused, nil, wrapsOf(err))
}

// errNoAbortUpdate: the run's workflow has no handler of UpdateAbort.
var errNoAbortUpdate = errors.New("flowtemporal: the workflow takes no abort update")

// abortUpdate sends run runID an UpdateAbort and returns its answer in the
// runtime's terms; errNoAbortUpdate for a workflow whose worker runs code
// older than the update. The SDK refuses an update no handler is set for
// with its own error, "unknown update <name>. KnownUpdates=[...]"
// (go.temporal.io/sdk internal/internal_update.go), which names no type.
func abortUpdate(ctx context.Context, c client.Client, runID string) error {
	var u AbortUpdate
	if dl, ok := ctx.Deadline(); ok {
		u.Until = dl.Add(-min(abortMargin, time.Until(dl)/4))
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: runID, UpdateName: UpdateAbort,
		Args: []any{u}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	var app *temporal.ApplicationError
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf):
		// Found running a moment ago (AbortRun): it has ended since.
		return fmt.Errorf("%w: %q ended", runtime.ErrFinished, runID)
	case !errors.As(err, &app):
		return err
	case app.Type() == errTypeAbortRefused:
		var wraps []string
		if app.HasDetails() && app.Details(&wraps) != nil {
			wraps = nil
		}
		return &remoteError{msg: app.Message(), wraps: wraps}
	case app.Type() == errTypeAbortLate:
		return fmt.Errorf("%w (%s)", context.DeadlineExceeded, app.Message())
	case strings.HasPrefix(app.Message(), "unknown update "+UpdateAbort+"."):
		return errNoAbortUpdate
	}
	return err
}
