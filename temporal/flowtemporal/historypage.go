package flowtemporal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Temporal refuses a query's result past 2,000,000 bytes (its server's
// default), which a run's history passes with a few hundred events of a
// 10 KB state. So a history leaves its workflow in pages
// (QueryHistoryPage) within that: at most queryPageLimit events and
// queryPageBytes of their states, payloads and errors, the parts whose
// size a run's callers and services decide (store.EventBytes), the rest
// of an event being a few hundred bytes of names and numbers. A page holds
// at least one event (store.Page), so one event past the bound on its own
// (a state and a payload of a megabyte each) cannot be read.
const (
	queryPageLimit = 1000
	queryPageBytes = 1 << 20
)

// HistoryPageQuery is the argument of QueryHistoryPage: the events after
// seq After (0: from the first), at most Limit of them and MaxBytes of
// their states, payloads and errors (store.Page's rule), each lowered to
// what a query can answer (0: as much), the events without their states
// unless States.
type HistoryPageQuery struct {
	After    uint64 `json:"after"`
	Limit    int    `json:"limit"`
	MaxBytes int    `json:"max_bytes"`
	States   bool   `json:"states"`
}

// HistoryPage is QueryHistoryPage's answer: the page's events, and whether
// more events follow them now.
type HistoryPage struct {
	Events []runtime.Event `json:"events"`
	More   bool            `json:"more"`
}

// pageOf is the page q asks of history h.
func pageOf(h []runtime.Event, q HistoryPageQuery) (HistoryPage, error) {
	limit, maxBytes := queryPageLimit, queryPageBytes
	if q.Limit > 0 {
		limit = min(q.Limit, limit)
	}
	if q.MaxBytes > 0 {
		maxBytes = min(q.MaxBytes, maxBytes)
	}
	events, more, err := store.Page(h, q.After, limit, maxBytes, q.States)
	return HistoryPage{Events: events, More: more}, err
}

// QueryHistoryPageOf reads the page q asks of run runID's history from its
// workflow (QueryHistoryPage). A worker of older code, which does not know
// that query, answers the whole history (QueryHistory), which is cut here
// by the same rule, as long as it fits in a query's answer.
func QueryHistoryPageOf(ctx context.Context, c client.Client, runID string, q HistoryPageQuery) (HistoryPage, error) {
	p, err := queryPage(ctx, c, runID, q)
	if unknownQuery(err) {
		h, err := wholeHistory(ctx, c, runID)
		if err != nil {
			return HistoryPage{}, err
		}
		return pageOf(h, q)
	}
	return p, RunError(err, runID)
}

// QueryHistoryOf reads run runID's whole history from its workflow, page
// after page (QueryHistoryPage), each page within what a query can
// answer: the events after those of a page are read after it, so the
// history read is one the run had, the events it recorded meanwhile
// included up to the last page. A worker of older code is asked the
// whole history at once (QueryHistory).
func QueryHistoryOf(ctx context.Context, c client.Client, runID string) (_ []runtime.Event, err error) {
	defer func() { err = contextEnded(ctx, err) }()
	var h []runtime.Event
	q := HistoryPageQuery{States: true}
	for {
		p, err := queryPage(ctx, c, runID, q)
		if unknownQuery(err) && q.After == 0 {
			return wholeHistory(ctx, c, runID)
		}
		if err != nil {
			return nil, RunError(err, runID)
		}
		h = append(h, p.Events...)
		if !p.More || len(p.Events) == 0 {
			return h, nil
		}
		q.After = p.Events[len(p.Events)-1].Seq
	}
}

// queryPage asks run runID's workflow the page q (QueryHistoryPage).
func queryPage(ctx context.Context, c client.Client, runID string, q HistoryPageQuery) (HistoryPage, error) {
	var p HistoryPage
	v, err := c.QueryWorkflow(ctx, runID, "", QueryHistoryPage, q)
	if err != nil {
		return p, unanswered(ctx, c, runID, err)
	}
	return p, v.Get(&p)
}

// wholeHistory is run runID's history in one answer (QueryHistory), what
// a worker of older code answers.
func wholeHistory(ctx context.Context, c client.Client, runID string) ([]runtime.Event, error) {
	var h []runtime.Event
	v, err := c.QueryWorkflow(ctx, runID, "", QueryHistory)
	if err != nil {
		return nil, RunError(unanswered(ctx, c, runID, err), runID)
	}
	return h, v.Get(&h)
}

// unknownQuery reports whether err is a worker's answer to a query its
// workflow has no handler of (the SDK's "unknown queryType").
func unknownQuery(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unknown queryType")
}

// unanswered is err, from a query of run runID, saying why when the query
// ran out of time: only a worker polling the run's task queue answers a
// query, so one with none running (not started, or given another queue)
// ends at the SDK's own deadline (10 s) or ctx's. Without the reason, the
// caller read "context deadline exceeded" (or gRPC's "stream terminated"),
// from a call whose ctx had not ended. The queue is named when ctx lets
// it be asked for (a description of the workflow, on this path only).
// Any other error is returned as it is.
func unanswered(ctx context.Context, c client.Client, runID string, err error) error {
	var dl *serviceerror.DeadlineExceeded
	var cl *serviceerror.Canceled
	live := ctx.Err() == nil
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		live = false
	}
	if !errors.As(err, &dl) && !(live && errors.As(err, &cl)) {
		return err
	}
	queue := "of the run's task queue"
	if live {
		if d, derr := c.DescribeWorkflowExecution(ctx, runID, ""); derr == nil {
			queue = fmt.Sprintf("of task queue %q", d.GetExecutionConfig().GetTaskQueue().GetName())
		}
	}
	return fmt.Errorf("flowtemporal: run %q: no worker %s answered the query in time (a query needs a running worker of the run's task queue, even for a run that ended): %w", runID, queue, err)
}
