package jsonflows

import (
	"context"
	"errors"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/runtime"
)

// endingClient is a Temporal client whose workflow is running when
// described and has ended when cancelled: a run that ends while its abort
// is on the way.
type endingClient struct{ client.Client }

func (endingClient) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING}}, nil
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
