package engine

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// askingExecutor is an Executor whose runs' histories it holds and which
// says which runs have an abort requested (AbortRequester).
type askingExecutor struct {
	Executor  // the rest is not called
	histories map[string][]runtime.Event
	requested map[string]bool
	err       error
	asked     []string
}

func (x *askingExecutor) History(_ context.Context, runID string) ([]runtime.Event, error) {
	return x.histories[runID], nil
}

func (x *askingExecutor) AbortRequested(_ context.Context, runID string) (bool, error) {
	x.asked = append(x.asked, runID)
	return x.requested[runID], x.err
}

// GET /runs/{id} of an Executor's run says abort_requested as for the
// engine's own runs when the executor can tell (AbortRequester): an abort
// accepted that the run, its step in flight, has not recorded yet. Only
// while the run takes aborts (AbortPending): not for a run rolling back or
// over, which it is not asked about. It never said so: an operator who
// aborted a run on Temporal saw it running, the web view's abort button
// still offered, until its step returned.
func TestExecutorAbortRequested(t *testing.T) {
	ev := func(run string, seq uint64, from, to string) runtime.Event {
		return runtime.Event{RunID: run, Seq: seq, Flow: "F", Step: "X", From: from, To: to}
	}
	x := &askingExecutor{
		histories: map[string][]runtime.Event{
			"running":  {ev("running", 1, "pending", "X:running")},
			"quiet":    {ev("quiet", 1, "pending", "X:running")},
			"failing":  {ev("failing", 1, "pending", "X:running"), {RunID: "failing", Seq: 2, Flow: "F", Step: "X", From: "X:running", To: "failing", Attempt: 1, Outcome: runtime.OutcomeError, Error: "boom"}},
			"finished": {ev("finished", 1, "pending", "X:running"), {RunID: "finished", Seq: 2, Flow: "F", Step: "X", From: "X:running", To: "done", Attempt: 1, Outcome: runtime.OutcomeOK}},
		},
		requested: map[string]bool{"running": true, "failing": true, "finished": true},
	}
	e, err := New(Options{Executor: x})
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	for run, want := range map[string]bool{"running": true, "quiet": false, "failing": false, "finished": false} {
		status, body := c.do("GET", "/runs/"+run, "")
		if got, _ := body["abort_requested"].(bool); status != 200 || got != want {
			t.Errorf("GET /runs/%s: %d %v; want abort_requested %v", run, status, body, want)
		}
	}
	for _, run := range x.asked {
		if run == "failing" || run == "finished" {
			t.Errorf("asked about run %s, which takes no abort", run)
		}
	}
	x.err = errors.New("the cluster did not answer")
	if status, body := c.do("GET", "/runs/running", ""); status != 500 {
		t.Errorf("GET /runs/running with the executor failing to say: %d %v; want its error", status, body)
	}
}
