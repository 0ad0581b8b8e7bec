package jsonflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/dynamicconfig"

	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// A run whose state grew past the cluster's payload limit (two events
// awaited, each within it) fails the step that would carry it, saying
// so, and ends failed as flowgen records it: its history has the step's
// failure and its end. Before, the cluster terminated the run's workflow
// when it scheduled that step's activity: no rollback, no end recorded,
// and the run read "terminated outside flowgen". The server here limits a
// payload to 256 KiB, and each event carries 150 KiB.
func TestStepInputPastThePayloadLimitFailsTheStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	const limit = 256 << 10
	const queue = "input-size-test"
	o := newOnTemporalOf(t, queue, func(c client.Client) *Executor {
		return New(c, Options{TaskQueue: queue, PayloadLimit: limit})
	}, testserver.Dynamic(dynamicconfig.StaticClient{
		dynamicconfig.BlobSizeLimitError.Key(): []dynamicconfig.ConstrainedValue{{Value: limit}},
		dynamicconfig.BlobSizeLimitWarn.Key():  []dynamicconfig.ConstrainedValue{{Value: limit / 2}},
	}))
	c := o.c
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Big", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Big.Start"}], "steps": [
  {"name": "One", "action": {"kind": "await", "topic": "t", "event": "one", "response": "A", "timeout": "1h"}, "on": [{"on": "timeout", "target": "fail"}]},
  {"name": "Two", "action": {"kind": "await", "topic": "t", "event": "two", "response": "B", "timeout": "1h"}, "on": [{"on": "timeout", "target": "fail"}]},
  {"name": "Tell", "action": {"kind": "publish", "topic": "t", "event": "told"}, "irreversible": true}]}]}`, 200)
	w := o.worker(t)
	defer w.Stop()
	o.must(t, "POST", "/flows/Big/runs?run_id=big", `{}`, 201)
	pad := strings.Repeat("x", 150<<10)
	o.must(t, "POST", "/events/t/one?id=1", `{"pad": "`+pad+`"}`, 202)
	o.must(t, "POST", "/events/t/two?id=2", `{"pad": "`+pad+`"}`, 202)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := c.GetWorkflow(ctx, "big", "").Get(ctx, nil)
	if ctx.Err() != nil {
		t.Fatal("run big did not end")
	}
	// Its status is read from its workflow's end here: GET /runs/big
	// pages its history by queries, whose answers this server's limit
	// also bounds, and each event of the run holds its state of 300 KiB.
	if err == nil || !strings.Contains(err.Error(), "payload limit") || strings.Contains(err.Error(), "terminated") {
		t.Errorf("run big, whose step's input was past the payload limit, ended with %v; want its failure, saying the step's input is past the payload limit", err)
	}
	d, err := c.DescribeWorkflowExecution(ctx, "big", "")
	if err != nil {
		t.Fatal(err)
	}
	if s := d.GetWorkflowExecutionInfo().GetStatus().String(); s == "Terminated" {
		t.Errorf("the cluster terminated run big's workflow; want it to end as flowgen records it")
	}
}
