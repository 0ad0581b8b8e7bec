package jsonflows

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// maxListScan bounds the workflows one Runs call reads from visibility
// while it looks for the filter's runs. Visibility gives the runs in
// progress first, then the others latest closed first, so past the bound
// the runs that closed longest ago are the ones not listed, and Runs says
// so (engine.ErrListTruncated; TestRunsPastTheScanBound).
const maxListScan = 10000

// visibilitySlack widens the start times the visibility query asks for,
// since a visibility store may keep them rounded: f.Match, applied to each
// run read, decides at the edge.
const visibilitySlack = time.Second

// Runs lists the runs on the task queue from Temporal's visibility, as a
// store lists them (store.Filter.Match, in the order they started, oldest
// or f.Newest first), each with its state, machine state, step and parent
// as its memo records them (runInfo). Visibility orders runs by when they
// closed, so Runs reads all the matching ones (at most maxListScan
// workflows) and sorts them before f.After and f.Limit cut its page. When
// visibility had more workflows than it read, the runs come with an error
// wrapping engine.ErrListTruncated.
func (x *Executor) Runs(req context.Context, f store.Filter) (_ []store.RunInfo, err error) {
	ctx, done := x.answering(req, "listing runs", &err)
	defer done()
	// A run in progress that records no progress reads "running": it
	// matches any state that is not over, whatever its status would say.
	vague := f
	if f.State != "" && !f.State.Terminal() {
		vague.State, vague.NonTerminal = "", true
	}
	query := x.runsQuery(f)
	var runs []store.RunInfo
	var cursor *store.RunInfo // the After run
	var token []byte
	for scanned := 0; scanned < maxListScan; {
		// No page past the bound (the server caps a page at its own
		// maximum, 1000 by default).
		req := &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token, PageSize: int32(maxListScan - scanned)}
		resp, err := x.c.ListWorkflow(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, w := range resp.GetExecutions() {
			scanned++
			info, exact := runInfo(w)
			if info.RunID == f.After {
				cursor = &info
			}
			match := f
			if !exact {
				match = vague
			}
			if match.Match(&info) {
				runs = append(runs, info)
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	// The loop ended at the bound with workflows left to read.
	truncated := len(token) > 0
	if f.After != "" && cursor == nil {
		// A page continues after its last run, whether or not that run
		// still matches (its state changed since).
		resp, err := x.c.DescribeWorkflowExecution(ctx, f.After, "")
		if err != nil {
			return nil, flowtemporal.RunError(err, f.After)
		}
		info, _ := runInfo(resp.GetWorkflowExecutionInfo())
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
	if truncated {
		return slices.Clip(runs), fmt.Errorf("%w: Temporal's visibility has more than the %d workflows read; narrow the list with flow, status, since or until", engine.ErrListTruncated, maxListScan)
	}
	return slices.Clip(runs), nil
}

// isRun says whether w is a run of the executor's flows: a workflow of
// its task queue that is neither an inbox nor a publication. runsQuery
// says the same to visibility.
func (x *Executor) isRun(w *workflowpb.WorkflowExecutionInfo) bool {
	t := w.GetType().GetName()
	return w.GetTaskQueue() == x.opts.TaskQueue && t != inboxWorkflowName && t != publicationWorkflowName
}

// runsQuery is the visibility query of the workflows that may be f's
// runs (those isRun says are runs): as close as the query language gets,
// f.Match decides.
func (x *Executor) runsQuery(f store.Filter) string {
	q := []string{fmt.Sprintf("TaskQueue = %s", quote(x.opts.TaskQueue)), fmt.Sprintf("WorkflowType != %s", quote(inboxWorkflowName)),
		fmt.Sprintf("WorkflowType != %s", quote(publicationWorkflowName))}
	if f.Flow != "" {
		q = append(q, "WorkflowType = "+quote(flowtemporal.WorkflowName(f.Flow)))
	}
	switch {
	case f.NonTerminal:
		q = append(q, "ExecutionStatus = 'Running'")
	case f.State.Terminal():
		// The workflows that end as a run in that state ends its
		// workflow, and those that read so having recorded no end
		// (flowtemporal.ClosedState): a workflow terminated or timed out
		// from outside flowgen reads failed.
		var in []string
		for _, st := range flowtemporal.EndStatuses(f.State) {
			in = append(in, quote(st.String()))
		}
		q = append(q, "ExecutionStatus IN ("+strings.Join(in, ", ")+")")
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

// runInfo is a workflow as a store.RunInfo; exact reports that its state
// is the run's own, not "running" for any run in progress. A run records
// in its memo its progress (flowtemporal.ProgressOf: its machine state and
// step, by the stores' rules), its correlation and, once over, its
// terminal state; a child run's memo names its parent. A run in progress
// started by a worker of older code records no progress: it reads
// "running", with no step.
func runInfo(w *workflowpb.WorkflowExecutionInfo) (info store.RunInfo, exact bool) {
	info = store.RunInfo{RunID: w.GetExecution().GetWorkflowId(), Flow: w.GetType().GetName(),
		Started: w.GetStartTime().AsTime(), Updated: w.GetStartTime().AsTime()}
	if ct := w.GetCloseTime(); ct != nil {
		info.Updated = ct.AsTime()
	}
	info.State, exact = flowtemporal.StateOf(w)
	info.Machine = string(info.State)
	if p, ok := flowtemporal.ProgressOf(w.GetMemo()); ok {
		info.Step = p.Step
		if st, known := runtime.RunStateOf(p.Machine); known && !exact {
			// In progress: where its last event left it. A run that is
			// over keeps the state its end recorded, or Temporal's (one
			// terminated from outside flowgen records no end).
			info.State, info.Machine, exact = st, p.Machine, true
		}
	}
	info.Correlation = memoString(w.GetMemo(), flowtemporal.MemoCorrelation)
	if p := flowtemporal.ParentOf(w.GetParentExecution() != nil, w.GetMemo()); p != nil {
		info.Parent = p.RunID
	}
	return info, exact
}

// EndedOutside returns the terminal state of run runID when its workflow
// is over but the run recorded no end (engine.EndReporter): one
// terminated or timed out from outside flowgen, whose history stops where
// it was. Its state is the one GET /runs lists it with, by the same rule
// (flowtemporal.EndedOutside), and why says what Temporal ended it as.
func (x *Executor) EndedOutside(req context.Context, runID string) (_ runtime.RunState, why string, err error) {
	ctx, done := x.answering(req, "reading run "+runID, &err)
	defer done()
	d, err := x.c.DescribeWorkflowExecution(ctx, runID, "")
	if err != nil {
		return "", "", flowtemporal.RunError(err, runID)
	}
	end, why := flowtemporal.EndedOutside(d.GetWorkflowExecutionInfo())
	return end, why, nil
}

func memoString(m *commonpb.Memo, field string) string {
	var s string
	flowtemporal.MemoValue(m, field, &s)
	return s
}

// quote is a string literal of Temporal's visibility query language.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
