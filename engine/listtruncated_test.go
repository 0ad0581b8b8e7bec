package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// cutShortExecutor is an Executor whose Runs, like jsonflows' past its
// scan bound, finds some runs and says the list is cut short.
type cutShortExecutor struct {
	Executor // the rest is not called
	runs     []store.RunInfo
	err      error
}

func (x *cutShortExecutor) Runs(context.Context, store.Filter) ([]store.RunInfo, error) {
	return x.runs, x.err
}

// GET /runs answers a list an executor cut short with the runs it found
// and "truncated": true, so that a client knows runs may be missing; a
// whole list has no such member, and other errors stay errors.
func TestRunsListTruncated(t *testing.T) {
	found := []store.RunInfo{{RunID: "r1", Flow: "F", State: runtime.StateDone}}
	for _, c := range []struct {
		err       error
		status    int
		truncated bool
	}{
		{fmt.Errorf("%w: read 10000", ErrListTruncated), 200, true},
		{nil, 200, false},
		{fmt.Errorf("visibility is down"), 500, false},
	} {
		x := &cutShortExecutor{runs: found, err: c.err}
		e, err := New(Options{Executor: x})
		if err != nil {
			t.Fatal(err)
		}
		c2 := apiClient{t, httptest.NewServer(e.Handler())}
		status, body := c2.do("GET", "/runs", "")
		c2.srv.Close()
		if status != c.status {
			t.Fatalf("executor error %v: status %d %v; want %d", c.err, status, body, c.status)
		}
		if status != 200 {
			continue
		}
		if got, _ := body["truncated"].(bool); got != c.truncated {
			t.Errorf("executor error %v: truncated %v in %v; want %v", c.err, body["truncated"], body, c.truncated)
		}
		var runs []struct {
			RunID string `json:"run_id"`
		}
		b, _ := json.Marshal(body["runs"])
		if err := json.Unmarshal(b, &runs); err != nil || len(runs) != 1 || runs[0].RunID != "r1" {
			t.Errorf("executor error %v: runs %s; want the run found, r1", c.err, b)
		}
	}
}
