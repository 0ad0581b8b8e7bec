package jsonflows

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

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

// visibilitySlack widens the start times the visibility query asks for,
// since a visibility store may keep them rounded: f.Match, applied to each
// run read, decides at the edge.
const visibilitySlack = time.Second

// Runs lists the runs on the task queue from Temporal's visibility, as a
// store lists them (store.Filter.Match, in the order they started, oldest
// or f.Newest first): a run in progress reads "running" (GET /runs/{id}
// says where it is), a finished one the terminal state it recorded in its
// memo. Visibility orders runs by when they closed, so Runs reads all the
// matching ones (at most maxListScan workflows) and sorts them before
// f.After and f.Limit cut its page.
func (x *Executor) Runs(ctx context.Context, f store.Filter) ([]store.RunInfo, error) {
	// A run in progress reads "running" here: it matches any state that
	// is not over, whatever its status would say.
	match := f
	if f.State != "" && !f.State.Terminal() {
		match.State, match.NonTerminal = "", true
	}
	query := x.runsQuery(f)
	var runs []store.RunInfo
	var cursor *store.RunInfo // the After run
	var token []byte
	for scanned := 0; scanned < maxListScan; {
		resp, err := x.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return nil, err
		}
		for _, w := range resp.GetExecutions() {
			scanned++
			info := runInfo(w)
			if info.RunID == f.After {
				cursor = &info
			}
			if match.Match(&info) {
				runs = append(runs, info)
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	if f.After != "" && cursor == nil {
		// A page continues after its last run, whether or not that run
		// still matches (its state changed since).
		resp, err := x.c.DescribeWorkflowExecution(ctx, f.After, "")
		if err != nil {
			return nil, runError(err, f.After)
		}
		info := runInfo(resp.GetWorkflowExecutionInfo())
		cursor = &info
	}
	order := func(a, b store.RunInfo) int {
		c := cmp.Or(a.Started.Compare(b.Started), strings.Compare(a.RunID, b.RunID))
		if f.Newest {
			return -c
		}
		return c
	}
	slices.SortFunc(runs, order)
	if cursor != nil {
		i, found := slices.BinarySearchFunc(runs, *cursor, order)
		if found {
			i++
		}
		runs = runs[i:]
	}
	if f.Limit > 0 && len(runs) > f.Limit {
		runs = runs[:f.Limit]
	}
	return slices.Clip(runs), nil
}

// runsQuery is the visibility query of the workflows that may be f's
// runs: as close as the query language gets, f.Match decides.
func (x *Executor) runsQuery(f store.Filter) string {
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
	if !f.Since.IsZero() {
		q = append(q, "StartTime >= "+quote(f.Since.Add(-visibilitySlack).UTC().Format(time.RFC3339Nano)))
	}
	if !f.Until.IsZero() {
		q = append(q, "StartTime < "+quote(f.Until.Add(visibilitySlack).UTC().Format(time.RFC3339Nano)))
	}
	return strings.Join(q, " AND ")
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
	info.Correlation = memoString(w.GetMemo(), flowtemporal.MemoCorrelation)
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
