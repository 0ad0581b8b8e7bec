package jsonflows

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// staleClient is a Temporal client whose descriptions, while stale holds
// a progress, say the run is there: a description read a moment before
// the run moved on.
type staleClient struct {
	client.Client
	stale atomic.Pointer[flowtemporal.Progress]
}

func (c *staleClient) DescribeWorkflowExecution(ctx context.Context, id, run string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	d, err := c.Client.DescribeWorkflowExecution(ctx, id, run)
	p := c.stale.Load()
	if err != nil || p == nil {
		return d, err
	}
	d = proto.Clone(d).(*workflowservice.DescribeWorkflowExecutionResponse)
	pl, err := converter.GetDefaultDataConverter().ToPayload(*p)
	if err != nil {
		return nil, err
	}
	info := d.GetWorkflowExecutionInfo()
	if info.GetMemo().GetFields() == nil {
		info.Memo = &commonpb.Memo{Fields: map[string]*commonpb.Payload{}}
	}
	info.Memo.Fields[flowtemporal.MemoProgress] = pl
	return d, nil
}

// A run held in its rollback after a failure refuses, itself, the abort
// POST /runs/{id}/abort sends it (flowtemporal.UpdateAbort): 409 naming
// its rolling back, as the engine answers its own runs
// (engine.CheckAbort), and the run is left as it was: it ends
// compensated, its history holds no abort, and GET /runs/{id} says no
// abort_requested.
//
// The executor refuses such an abort from the run's progress memo
// without asking the run when the memo already says it is rolling back,
// which it does by the time the rollback's action runs: the workflow
// records its progress in the task that schedules that action. What is
// exercised here is the run's own refusal, the one that answers an
// abort whose description was read a moment before the run entered its
// rollback: the executor's client describes the run as it was at its
// failing step (staleClient), so the memo check passes and the update
// reaches the workflow, which must refuse it. A workflow that took it
// would end aborted, or the API would answer 202.
func TestAbortRefusedByTheRunRollingBack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	// The service of the rpc steps: Reserve succeeds, Charge fails for
	// good (a 4xx is no retry's to fix), Unreserve waits at the gate.
	came, open := make(chan struct{}, 1), make(chan struct{})
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/Step.Charge":
			http.Error(w, "card refused", http.StatusUnprocessableEntity)
			return
		case "/Step.Unreserve":
			select {
			case came <- struct{}{}:
			default:
			}
			<-open
		}
		_, _ = io.WriteString(w, `"ok"`)
	}))
	defer svc.Close()
	defer func() {
		select {
		case <-open:
		default:
			close(open)
		}
	}()
	const queue = "abort-refused"
	tc := testserver.New(t).GetDefaultClient()
	c := &staleClient{Client: tc}
	x := New(c, Options{TaskQueue: queue})
	e, url := serveEngine(t, engine.Options{Executor: x, FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: engine.JSONOnly,
		Caller: httpcall.New(httpcall.Static{"svc": svc.URL})})
	o := &onTemporal{c: tc, x: x, e: e, url: url, queue: queue}
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Undo", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Undo.Start"}],
		"retry": {"attempts": 1},
		"steps": [
			{"name": "Reserve", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Reserve", "request": "In", "response": "A"},
			 "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Unreserve", "request": "A"}}},
			{"name": "Charge", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Charge", "request": "In", "response": "Z"}, "irreversible": true}
		]}]}`, 200)
	defer o.worker(t).Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const run = "undo-1"
	o.must(t, "POST", "/flows/Undo/runs?run_id="+run, `{"In": "x"}`, 201)
	select {
	case <-came: // Charge failed; the run is in its rollback
	case <-ctx.Done():
		t.Fatal("the run does not roll back Reserve")
	}
	d, err := tc.DescribeWorkflowExecution(ctx, run, "")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := flowtemporal.ProgressOf(d.GetWorkflowExecutionInfo().GetMemo())
	// What the executor's check would read (the stale description
	// below makes it pass either way).
	t.Logf("the run's memo in its rollback: %q", p.Machine)
	c.stale.Store(&flowtemporal.Progress{Machine: runtime.RunningState("Charge"), Step: "Charge"})
	status, _, answer := request(t, "POST", url+"/runs/"+run+"/abort", "")
	c.stale.Store(nil)
	var refusal struct {
		Error string `json:"error"`
	}
	want := engine.CheckAbort(run, runtime.StateRollingBack).Error()
	if status != http.StatusConflict || json.Unmarshal([]byte(answer), &refusal) != nil || refusal.Error != want {
		t.Errorf("POST /runs/%s/abort in its rollback: %d %s, want 409 %q", run, status, answer, want)
	}

	close(open)
	_ = tc.GetWorkflow(ctx, run, "").Get(ctx, nil)
	status, _, answer = request(t, "GET", url+"/runs/"+run, "")
	var got struct {
		State          runtime.RunState `json:"state"`
		AbortRequested bool             `json:"abort_requested"`
	}
	if status != 200 || json.Unmarshal([]byte(answer), &got) != nil || got.State != runtime.StateCompensated || got.AbortRequested {
		t.Errorf("GET /runs/%s: %d %s, want compensated without abort_requested", run, status, answer)
	}
	status, _, answer = request(t, "GET", url+"/runs/"+run+"/history", "")
	var h struct {
		Events []runtime.Event `json:"events"`
	}
	if status != 200 || json.Unmarshal([]byte(answer), &h) != nil || len(h.Events) == 0 {
		t.Fatalf("GET /runs/%s/history: %d %.300s", run, status, answer)
	}
	for _, ev := range h.Events {
		if ev.To == runtime.MachineAborting || strings.Contains(ev.Error, "abort") {
			t.Errorf("the run's history holds an abort: %+v", ev)
		}
	}
}
