package jsonflows

import (
	"context"
	"errors"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// olderCode is what the SDK answers an update no handler is set for: the
// abort update (flowtemporal.UpdateAbort) sent to a workflow whose worker
// runs code older than it.
var olderCode = temporal.NewApplicationError("unknown update "+flowtemporal.UpdateAbort+". KnownUpdates=[]", "")

// answered is the handle of an update the workflow answered with err.
type answered struct {
	client.WorkflowUpdateHandle
	err error
}

func (a answered) Get(context.Context, any) error { return a.err }

// endingClient is a Temporal client whose workflow is running when
// described, until it is cancelled, or sent the abort update (updates),
// which find it ended compensated: a run that ends while its abort is on
// the way.
type endingClient struct {
	client.Client
	updates bool
	ended   bool
}

func (c *endingClient) UpdateWorkflow(context.Context, client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if c.updates {
		c.ended = true
		return nil, serviceerror.NewNotFound("workflow execution already completed")
	}
	return answered{err: olderCode}, nil
}

func (c *endingClient) DescribeWorkflowExecution(ctx context.Context, id, run string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	if c.ended {
		return endedClient{st: enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, state: runtime.StateCompensated}.DescribeWorkflowExecution(ctx, id, run)
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, TaskQueue: DefaultTaskQueue}}, nil
}

func (c *endingClient) CancelWorkflow(context.Context, string, string) error {
	c.ended = true
	return serviceerror.NewNotFound("workflow execution already completed")
}

// An abort of a run that ends between its description and its update
// (or cancellation) says the run is over (409), as for a run found
// ended, not that it is unknown (404), and names the state it ended in,
// as the engine does (engine.CheckAbort), not "ended".
func TestAbortOfARunThatJustEnded(t *testing.T) {
	want := engine.CheckAbort("r-1", runtime.StateCompensated)
	for _, updates := range []bool{true, false} {
		err := New(&endingClient{updates: updates}, Options{}).Abort(context.Background(), "r-1")
		if !errors.Is(err, runtime.ErrFinished) || errors.Is(err, runtime.ErrUnknownRun) || err.Error() != want.Error() {
			t.Errorf("updates %v: Abort = %v, want %v", updates, err, want)
		}
	}
}

// progressClient is a Temporal client whose workflow is running, where
// its progress memo says (none: a run of older code), and counts the
// cancellations asked for.
type progressClient struct {
	client.Client
	machine   string
	cancelled int
	// answer is the run's answer to the abort update (nil: taken), and
	// older a run of older code, which takes none.
	answer  error
	older   bool
	updates int
}

func (c *progressClient) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	c.updates++
	if c.older || o.UpdateName != flowtemporal.UpdateAbort {
		return answered{err: olderCode}, nil
	}
	return answered{err: c.answer}, nil
}

func (c *progressClient) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	info := &workflowpb.WorkflowExecutionInfo{Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, TaskQueue: DefaultTaskQueue}
	if c.machine != "" {
		p, err := converter.GetDefaultDataConverter().ToPayload(flowtemporal.Progress{Machine: c.machine})
		if err != nil {
			return nil, err
		}
		info.Memo = &commonpb.Memo{Fields: map[string]*commonpb.Payload{flowtemporal.MemoProgress: p}}
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: info}, nil
}

func (c *progressClient) CancelWorkflow(context.Context, string, string) error {
	c.cancelled++
	return nil
}

// An abort of a run rolling back is refused (409) and cancels nothing, as
// on the engine (engine.CheckAbort): its rollback finishes whatever
// happens. A run its memo says is at a step, or one that records no
// progress, answers the abort itself (flowtemporal.UpdateAbort): it takes
// it (202), or refuses it, having entered its rollback since its
// description (409, as the engine answers runtime.ErrRollingBack: before,
// it was cancelled, answered 202, and ended compensated). A run of older
// code, which takes no update, is cancelled, as before.
func TestAbortOfARunRollingBack(t *testing.T) {
	// The run's refusal as it crosses Temporal (flowtemporal's
	// errTypeAbortRefused, the runtime's errors it wraps by name).
	rollingBack := temporal.NewApplicationError("runtime: run rolling back after a failure: run \"r-1\"", "flowgen.abort-refused", []string{"rolling-back"})
	for _, c := range []struct {
		machine   string
		older     bool
		answer    error
		refused   bool
		updated   bool
		cancelled bool
	}{
		{machine: "Pay:rollback", refused: true},
		{machine: "failing", refused: true},
		{machine: "aborting", refused: true},
		{machine: "Ship:running", updated: true},
		{machine: "Pay:waiting", updated: true},
		{machine: "", updated: true},
		{machine: "Ship:running", answer: rollingBack, refused: true, updated: true},
		{machine: "Ship:running", older: true, updated: true, cancelled: true},
		{machine: "", older: true, updated: true, cancelled: true},
	} {
		pc := &progressClient{machine: c.machine, older: c.older, answer: c.answer}
		err := New(pc, Options{}).Abort(context.Background(), "r-1")
		if refused := errors.Is(err, engine.ErrConflict); refused != c.refused || (err != nil && !refused) ||
			(pc.updates > 0) != c.updated || (pc.cancelled > 0) != c.cancelled {
			t.Errorf("machine %q, older %v, answer %v: Abort = %v after %d updates, %d cancellations; want refused %v, updated %v, cancelled %v",
				c.machine, c.older, c.answer, err, pc.updates, pc.cancelled, c.refused, c.updated, c.cancelled)
		}
	}
}

// endedClient is a Temporal client whose workflow has ended with status
// st, its end recorded in its memo as flowgen terminal state (none: a
// workflow ended from outside flowgen, such as terminated).
type endedClient struct {
	client.Client
	st    enumspb.WorkflowExecutionStatus
	state runtime.RunState
}

func (c endedClient) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	info := &workflowpb.WorkflowExecutionInfo{Status: c.st, TaskQueue: DefaultTaskQueue}
	if c.state != "" {
		p, err := converter.GetDefaultDataConverter().ToPayload(string(c.state))
		if err != nil {
			return nil, err
		}
		info.Memo = &commonpb.Memo{Fields: map[string]*commonpb.Payload{flowtemporal.MemoState: p}}
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: info}, nil
}

func (endedClient) CancelWorkflow(context.Context, string, string) error {
	return errors.New("an ended run is not cancelled")
}

// An abort of a run that is over answers as the engine does
// (engine.CheckAbort): 409, naming the run's terminal state, not
// Temporal's status for it ("canceled" for an aborted run, "failed" for
// a compensated one); the GET /runs/{id} beside it says the same state.
func TestAbortOfARunOverNamesItsState(t *testing.T) {
	for _, c := range []struct {
		st    enumspb.WorkflowExecutionStatus
		state runtime.RunState // in the memo
		want  runtime.RunState
	}{
		{enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, runtime.StateAborted, runtime.StateAborted},
		{enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, runtime.StateCompensated, runtime.StateCompensated},
		{enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, runtime.StateCompensationFailed, runtime.StateCompensationFailed},
		{enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, runtime.StateDone, runtime.StateDone},
		{enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, "", runtime.StateAborted},
		{enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, "", runtime.StateFailed},
	} {
		err := New(endedClient{st: c.st, state: c.state}, Options{}).Abort(context.Background(), "r-1")
		want := engine.CheckAbort("r-1", c.want)
		if !errors.Is(err, runtime.ErrFinished) || err.Error() != want.Error() {
			t.Errorf("%s with state %q: Abort = %v, want %v", c.st, c.state, err, want)
		}
	}
}
