package engine

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// endingExecutor is an askingExecutor whose runs may have ended without
// their history recording it (EndReporter).
type endingExecutor struct {
	askingExecutor
	ended map[string]runtime.RunState
	told  []string
}

func (x *endingExecutor) EndedOutside(_ context.Context, runID string) (runtime.RunState, string, error) {
	x.told = append(x.told, runID)
	if end := x.ended[runID]; end != "" {
		return end, "terminated by hand", x.err
	}
	return "", "", x.err
}

// GET /runs/{id} of an Executor's run that ended without its history
// recording it (a Temporal workflow terminated from outside flowgen) says
// the end the executor reports, as its list does, not the state its
// history stopped at: no wait, no abort requested, the executor's reason
// as its error. A run whose history ended is not asked about.
func TestExecutorEndedOutside(t *testing.T) {
	ev := func(run string, seq uint64, from, to string) runtime.Event {
		return runtime.Event{RunID: run, Seq: seq, Flow: "F", Step: "X", From: from, To: to}
	}
	x := &endingExecutor{askingExecutor: askingExecutor{
		histories: map[string][]runtime.Event{
			"terminated": {ev("terminated", 1, "pending", "X:waiting")},
			"waiting":    {ev("waiting", 1, "pending", "X:waiting")},
			"finished":   {ev("finished", 1, "pending", "X:running"), {RunID: "finished", Seq: 2, Flow: "F", Step: "X", From: "X:running", To: "done", Attempt: 1, Outcome: runtime.OutcomeOK}},
		},
		requested: map[string]bool{"terminated": true},
	}, ended: map[string]runtime.RunState{"terminated": runtime.StateFailed}}
	e, err := New(Options{Executor: x})
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	for run, want := range map[string]string{"terminated": "failed", "waiting": "waiting", "finished": "done"} {
		status, body := c.do("GET", "/runs/"+run, "")
		if status != 200 || body["state"] != want {
			t.Errorf("GET /runs/%s: %d %v; want state %s", run, status, body, want)
		}
	}
	status, body := c.do("GET", "/runs/terminated", "")
	if status != 200 || body["machine"] != "failed" || body["step"] != "X" || body["error"] != "terminated by hand" || body["wait"] != nil || body["abort_requested"] != nil {
		t.Errorf("GET /runs/terminated: %d %v; want machine failed, step X, the executor's reason, no wait, no abort requested", status, body)
	}
	if slices.Contains(x.told, "finished") {
		t.Errorf("asked how run finished ended, whose history says so")
	}
	x.err = errors.New("the cluster did not answer")
	if status, body := c.do("GET", "/runs/waiting", ""); status != 500 {
		t.Errorf("GET /runs/waiting with the executor failing to say: %d %v; want its error", status, body)
	}
}
