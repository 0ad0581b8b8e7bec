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

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// endingClient is a Temporal client whose workflow is running when
// described and has ended when cancelled: a run that ends while its abort
// is on the way.
type endingClient struct{ client.Client }

func (endingClient) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, TaskQueue: DefaultTaskQueue}}, nil
}

func (endingClient) CancelWorkflow(context.Context, string, string) error {
	return serviceerror.NewNotFound("workflow execution already completed")
}

// An abort of a run that ends between its description and its
// cancellation says the run is over (409), as for a run found ended,
// not that it is unknown (404).
func TestAbortOfARunThatJustEnded(t *testing.T) {
	err := New(endingClient{}, Options{}).Abort(context.Background(), "r-1")
	if !errors.Is(err, runtime.ErrFinished) || errors.Is(err, runtime.ErrUnknownRun) {
		t.Fatalf("Abort = %v, want runtime.ErrFinished", err)
	}
}

// progressClient is a Temporal client whose workflow is running, where
// its progress memo says (none: a run of older code), and counts the
// cancellations asked for.
type progressClient struct {
	client.Client
	machine   string
	cancelled int
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
// happens. A run at a step, or one of older code that records no
// progress, is cancelled.
func TestAbortOfARunRollingBack(t *testing.T) {
	for _, c := range []struct {
		machine string
		refused bool
	}{
		{"Pay:rollback", true},
		{"failing", true},
		{"aborting", true},
		{"Ship:running", false},
		{"Pay:waiting", false},
		{"", false},
	} {
		pc := &progressClient{machine: c.machine}
		err := New(pc, Options{}).Abort(context.Background(), "r-1")
		if refused := errors.Is(err, engine.ErrConflict); refused != c.refused || (err != nil && !refused) || (pc.cancelled == 0) != c.refused {
			t.Errorf("machine %q: Abort = %v after %d cancellations; want refused %v", c.machine, err, pc.cancelled, c.refused)
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
