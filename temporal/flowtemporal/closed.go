package flowtemporal

import (
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/flowgen/flowgen/runtime"
)

// ClosedState is the state of a run by its workflow's status alone, what a
// run that recorded no end reads (its memo has no MemoState): for a
// workflow that is over, its terminal state, and closed true; for one
// running, "running" and closed false. A run ends done as its workflow
// completes, aborted as it ends canceled, and failed otherwise, as a
// workflow terminated or timed out from outside flowgen does, which wrote
// no end. Lists of runs (jsonflows), a run's status (Run.Status) and the
// flow service's GET /runs/{id} (jsonflows' EndedOutside) read a run so.
func ClosedState(w *workflowpb.WorkflowExecutionInfo) (_ runtime.RunState, closed bool) {
	for _, e := range workflowEnds {
		if e.status == w.GetStatus() {
			return e.state, true
		}
	}
	// Running, or paused (in progress too).
	return runtime.StateRunning, false
}

// StateOf is the state of a run by its workflow's description: the
// terminal state the run recorded (MemoState), or else ClosedState's, with
// whether the workflow is over. A run that recorded its end reads it even
// as its workflow is closing; one that recorded none reads its workflow's
// status in flowgen's terms (a compensated run's workflow failed, an
// aborted one's was canceled).
func StateOf(w *workflowpb.WorkflowExecutionInfo) (_ runtime.RunState, closed bool) {
	st, closed := ClosedState(w)
	var recorded string
	if MemoValue(w.GetMemo(), MemoState, &recorded) && recorded != "" {
		st = runtime.RunState(recorded)
	}
	return st, closed
}

// workflowEnds are the statuses of a workflow that is over, each with the
// state a run whose workflow ended so and recorded no end reads
// (ClosedState).
var workflowEnds = []struct {
	status enumspb.WorkflowExecutionStatus
	state  runtime.RunState
}{
	{enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, runtime.StateDone},
	{enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, runtime.StateAborted},
	{enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, runtime.StateFailed},
	{enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, runtime.StateFailed},
	{enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, runtime.StateFailed},
	{enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, runtime.StateFailed},
}

// EndStatuses are the statuses of the workflows whose runs may have ended
// in terminal state s: the workflow end a run ending in s writes (it
// completes for done, ends canceled for aborted, and fails for the
// others, MemoState saying which), and the ends of workflows that read so
// having recorded no end (ClosedState).
func EndStatuses(s runtime.RunState) []enumspb.WorkflowExecutionStatus {
	end := runtime.StateFailed
	if s == runtime.StateDone || s == runtime.StateAborted {
		end = s
	}
	var out []enumspb.WorkflowExecutionStatus
	for _, e := range workflowEnds {
		if e.state == end {
			out = append(out, e.status)
		}
	}
	return out
}

// EndedOutside returns the terminal state of the run of workflow w when
// the workflow is over but the run recorded no end (no MemoState): one
// terminated or timed out from outside flowgen, whose history stops where
// it was. Its state is ClosedState's, and why says what Temporal ended it
// as. A run whose end is recorded, or whose workflow runs, returns "".
func EndedOutside(w *workflowpb.WorkflowExecutionInfo) (end runtime.RunState, why string) {
	end, closed := ClosedState(w)
	var recorded string
	if !closed || MemoValue(w.GetMemo(), MemoState, &recorded) && recorded != "" {
		return "", ""
	}
	how := "ended as Temporal's " + w.GetStatus().String()
	switch w.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		how = "was terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		how = "timed out"
	}
	return end, fmt.Sprintf("temporal: the run's workflow %s outside flowgen; the run recorded no end", how)
}
