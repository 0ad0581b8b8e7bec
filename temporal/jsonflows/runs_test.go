package jsonflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// visibility is a Temporal client whose visibility holds runs, in the
// order a visibility store lists them (in progress first, then latest
// closed first), in pages of at most maxPage (the server's maximum,
// visibilityMaxPageSize).
type visibility struct {
	client.Client
	runs    []*workflowpb.WorkflowExecutionInfo
	maxPage int
	read    int
}

func (v *visibility) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	from := 0
	if len(req.NextPageToken) > 0 {
		from, _ = strconv.Atoi(string(req.NextPageToken))
	}
	size := int(req.PageSize)
	if size <= 0 || size > v.maxPage {
		size = v.maxPage
	}
	to := min(from+size, len(v.runs))
	v.read += to - from
	resp := &workflowservice.ListWorkflowExecutionsResponse{Executions: v.runs[from:to]}
	if to < len(v.runs) {
		resp.NextPageToken = []byte(strconv.Itoa(to))
	}
	return resp, nil
}

// closedRuns are n runs of flow F, run-00000 started first, each closed
// done an hour after it started, listed as visibility lists them: the
// latest closed first.
func closedRuns(n int) []*workflowpb.WorkflowExecutionInfo {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	runs := make([]*workflowpb.WorkflowExecutionInfo, n)
	for i := range n {
		start := t0.Add(time.Duration(i) * time.Second)
		runs[n-1-i] = &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: fmt.Sprintf("run-%05d", i)},
			Type:      &commonpb.WorkflowType{Name: "F"},
			StartTime: timestamppb.New(start), CloseTime: timestamppb.New(start.Add(time.Hour)),
			Status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED,
		}
	}
	return runs
}

func ids(runs []store.RunInfo) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.RunID
	}
	return out
}

// Each GET /runs reads at most maxListScan workflows from visibility,
// whatever the server's page size. Up to the bound every run is listed;
// past it, the runs that closed longest ago are not (an oldest-first list
// starts after them), and the runs come with engine.ErrListTruncated, which
// GET /runs answers as "truncated": true.
func TestRunsPastTheScanBound(t *testing.T) {
	for _, c := range []struct {
		runs, maxPage int
		first         []string // the oldest-first page of 3
		truncated     bool
	}{
		{maxListScan, 1000, []string{"run-00000", "run-00001", "run-00002"}, false},
		{maxListScan + 5, 1000, []string{"run-00005", "run-00006", "run-00007"}, true},
		{maxListScan + 5, 3000, []string{"run-00005", "run-00006", "run-00007"}, true},
	} {
		v := &visibility{runs: closedRuns(c.runs), maxPage: c.maxPage}
		got, err := New(v, Options{}).Runs(context.Background(), store.Filter{Flow: "F", Limit: 3})
		if truncated := errors.Is(err, engine.ErrListTruncated); truncated != c.truncated || (err != nil && !truncated) {
			t.Fatalf("%d runs, pages of %d: error %v; want truncated %v", c.runs, c.maxPage, err, c.truncated)
		}
		if !slices.Equal(ids(got), c.first) || v.read != maxListScan {
			t.Errorf("%d runs, pages of %d: listed %v after reading %d workflows; want %v after %d",
				c.runs, c.maxPage, ids(got), v.read, c.first, maxListScan)
		}
	}
}

// A run whose workflow was terminated (by hand, from outside flowgen) has
// recorded no end: GET /runs lists it failed (runInfo), and so must GET
// /runs?status=failed, with the run that failed in flowgen's terms.
// Visibility's status is "Terminated" (or "TimedOut"), not "Failed": the
// filtered list left it out.
func TestRunsFailedListsTerminatedRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporal(t, "terminated-test")
	if status, _, answer := request(t, "PUT", o.url+"/flows", `{"version": 1, "flows": [{"name": "Nap", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Nap.Start"}], "steps": [
  {"name": "Sleep", "action": {"kind": "sleep", "until": "At"}}]}]}`); status != 200 {
		t.Fatalf("PUT /flows: %d %s", status, answer)
	}
	w := o.worker(t)
	defer w.Stop()
	ctx := context.Background()
	for run, state := range map[string]string{"napping": `{"At": "2100-01-01T00:00:00Z"}`, "unset": `{}`} {
		if status, _, answer := request(t, "POST", o.url+"/flows/Nap/runs?run_id="+run, state); status != 201 {
			t.Fatalf("start %s: %d %s", run, status, answer)
		}
	}
	if err := o.c.GetWorkflow(ctx, "unset", "").Get(ctx, nil); err == nil {
		t.Fatal("run unset ended done; want failed (its sleep's time is not set)")
	}
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		runs, err := o.x.Runs(ctx, store.Filter{Flow: "Nap"})
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(runs, func(r store.RunInfo) bool { return r.RunID == "napping" }); i >= 0 && runs[i].Machine == "Sleep:waiting" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("napping does not sleep: %+v", runs)
		}
	}
	if err := o.c.TerminateWorkflow(ctx, "napping", "", "by hand"); err != nil {
		t.Fatal(err)
	}
	var all []store.RunInfo
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if all, err = o.x.Runs(ctx, store.Filter{Flow: "Nap"}); err != nil {
			t.Fatal(err)
		}
		if len(all) == 2 && all[0].State == runtime.StateFailed && all[1].State == runtime.StateFailed {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("GET /runs: %+v; want napping and unset failed", all)
		}
	}
	failed, err := o.x.Runs(ctx, store.Filter{Flow: "Nap", State: runtime.StateFailed})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(failed); !slices.Equal(got, ids(all)) {
		t.Errorf("GET /runs?status=failed: %v; want those GET /runs lists failed, %v", got, ids(all))
	}
	// GET /runs/{id} says what the list says: the terminated run's history
	// stops at its sleep, which it read ("waiting", its wait) before.
	for _, r := range all {
		status, _, answer := request(t, "GET", o.url+"/runs/"+r.RunID, "")
		var st engine.RunStatus
		if err := json.Unmarshal([]byte(answer), &st); status != 200 || err != nil {
			t.Fatalf("GET /runs/%s: %d %s (%v)", r.RunID, status, answer, err)
		}
		if st.State != r.State || st.Machine != r.Machine || st.Step != r.Step || st.Wait != nil || st.Err == "" {
			t.Errorf("GET /runs/%s: state %q, machine %q, step %q, wait %v, error %q; want as GET /runs lists it: %q, %q, %q, no wait, an error", r.RunID, st.State, st.Machine, st.Step, st.Wait, st.Err, r.State, r.Machine, r.Step)
		}
		if r.RunID == "napping" && !strings.Contains(st.Err, "terminated outside flowgen") {
			t.Errorf("GET /runs/napping: error %q; want it to say the workflow was terminated outside flowgen", st.Err)
		}
	}
}
