package jsonflows

import (
	"context"
	"fmt"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// maxListScan bounds the workflows one Runs call reads from visibility
// while it looks for the filter's runs.
const maxListScan = 10000

// Runs lists the runs on the task queue from Temporal's visibility, newest
// first: a run in progress reads "running" (GET /runs/{id} says where it
// is), a finished one the terminal state it recorded in its memo. f.After
// continues after that run.
func (x *Executor) Runs(ctx context.Context, f store.Filter) ([]store.RunInfo, error) {
	q := []string{fmt.Sprintf("TaskQueue = %s", quote(x.opts.TaskQueue)), fmt.Sprintf("WorkflowType != %s", quote(inboxWorkflowName))}
	if f.Flow != "" {
		q = append(q, "WorkflowType = "+quote(flowtemporal.WorkflowName(f.Flow)))
	}
	switch {
	case f.NonTerminal:
		q = append(q, "ExecutionStatus = 'Running'")
	case f.State == runtime.StateDone:
		q = append(q, "ExecutionStatus = 'Completed'")
	case f.State == runtime.StateAborted:
		q = append(q, "ExecutionStatus = 'Canceled'")
	case f.State.Terminal():
		q = append(q, "ExecutionStatus = 'Failed'")
	case f.State != "":
		q = append(q, "ExecutionStatus = 'Running'")
	}
	var out []store.RunInfo
	skipping := f.After != ""
	var token []byte
	for scanned := 0; scanned < maxListScan; {
		resp, err := x.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: strings.Join(q, " AND "), NextPageToken: token})
		if err != nil {
			return nil, err
		}
		for _, w := range resp.GetExecutions() {
			scanned++
			info := runInfo(w)
			if skipping {
				skipping = info.RunID != f.After
				continue
			}
			if f.State != "" && info.State != f.State && !(info.State == runtime.StateRunning && !f.State.Terminal()) {
				continue
			}
			out = append(out, info)
			if f.Limit > 0 && len(out) >= f.Limit {
				return out, nil
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	if skipping {
		return nil, fmt.Errorf("%w: %q", runtime.ErrUnknownRun, f.After)
	}
	return slices.Clip(out), nil
}

// runInfo is a workflow as a store.RunInfo.
func runInfo(w *workflowpb.WorkflowExecutionInfo) store.RunInfo {
	info := store.RunInfo{RunID: w.GetExecution().GetWorkflowId(), Flow: w.GetType().GetName(),
		Started: w.GetStartTime().AsTime(), Updated: w.GetStartTime().AsTime()}
	if ct := w.GetCloseTime(); ct != nil {
		info.Updated = ct.AsTime()
	}
	switch w.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		info.State = runtime.StateRunning
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		info.State = runtime.StateDone
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		info.State = runtime.StateAborted
	default:
		info.State = runtime.StateFailed
	}
	if st := memoString(w.GetMemo(), flowtemporal.MemoState); st != "" {
		info.State = runtime.RunState(st)
	}
	info.Machine = string(info.State)
	return info
}

func memoString(m *commonpb.Memo, field string) string {
	p := m.GetFields()[field]
	if p == nil {
		return ""
	}
	var s string
	_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	return s
}

// quote is a string literal of Temporal's visibility query language.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
