package jsonflows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// scheduledDefinition is the definition the Temporal Schedule id starts,
// or "" when there is no such schedule.
func scheduledDefinition(t *testing.T, c client.Client, id string) string {
	t.Helper()
	d, err := c.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
	if nf := (*serviceerror.NotFound)(nil); errors.As(err, &nf) {
		return ""
	}
	if err != nil {
		t.Fatalf("describing schedule %s: %v", id, err)
	}
	a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		t.Fatalf("schedule %s: action %T", id, d.Schedule.Action)
	}
	p, _ := a.Memo[memoDefinition].(*commonpb.Payload)
	var src []byte
	if err := converter.GetDefaultDataConverter().FromPayload(p, &src); err != nil {
		t.Fatalf("schedule %s: definition: %v", id, err)
	}
	return string(src)
}

// The Temporal Schedules follow the changes of flows an operator makes
// through PUT /flows. A refused change (the cluster fails for its last
// flow's second schedule) leaves them as they were: the new flows of the
// change have none, and one of another process, of the spec a flow of the
// change has, still starts that process's definition. An accepted change that
// changes a flow's spec deletes the old spec's schedule, and one that
// takes the trigger off deletes its schedule; the other process's, of a
// spec this one never had, stays.
func TestScheduleFollowsThePutOfItsFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	c := ts.GetDefaultClient()
	opts := Options{TaskQueue: "schedule-change-test"}
	ctx := context.Background()

	// Another process serves A on "@every 2h", definition "other".
	other := engine.ExecFlow{Name: "A", Source: []byte("other"), Hash: "other",
		Triggers: []runtime.Trigger{{Kind: runtime.TriggerSchedule, Schedule: "@every 2h"}}}
	if _, err := New(c, opts).Attach(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := New(c, opts).Activate(ctx, other); err != nil {
		t.Fatal(err)
	}

	e, err := engine.New(engine.Options{Executor: New(&writes{Client: c, down: scheduleID("Bad", "@every 5h")}, opts), FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: engine.JSONOnly})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	flow := func(name, doc, trigger string) string {
		return fmt.Sprintf(`{"name": %q, "doc": %q, "triggers": [%s],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]}`, name, doc, trigger)
	}
	every := func(d string) string { return `{"kind": "schedule", "schedule": "@every ` + d + `"}` }
	put := func(want int, flows ...string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", srv.URL+"/flows", strings.NewReader(`{"version": 1, "flows": [`+strings.Join(flows, ",")+`]}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("PUT /flows: %d %s, want %d", resp.StatusCode, body, want)
		}
	}
	definition := func(name string) string {
		t.Helper()
		src, err := e.FlowJSON(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(src)
	}
	a1, a2, a3 := scheduleID("A", "@every 1h"), scheduleID("A", "@every 2h"), scheduleID("A", "@every 3h")
	c1, bad1 := scheduleID("C", "@every 1h"), scheduleID("Bad", "@every 1h")

	put(200, flow("A", "v1", every("1h")))
	v1 := definition("A")
	if got := scheduledDefinition(t, c, a1); got != v1 {
		t.Fatalf("schedule %s starts %q, want A's definition %q", a1, got, v1)
	}

	// Refused: A on the other process's spec, and a new flow C, were
	// attached, before Bad failed to.
	put(500, flow("A", "v2", every("2h")), flow("C", "", every("1h")), flow("Bad", "", every("1h")+","+every("5h")))
	for _, id := range []string{c1, bad1} {
		if got := scheduledDefinition(t, c, id); got != "" {
			t.Errorf("the refused change left schedule %s, starting %q", id, got)
		}
	}
	if got := scheduledDefinition(t, c, a2); got != "other" {
		t.Errorf("the refused change left the other process's schedule %s starting %q, want %q", a2, got, "other")
	}
	if got := scheduledDefinition(t, c, a1); got != v1 {
		t.Errorf("after the refused change, schedule %s starts %q, want %q", a1, got, v1)
	}

	// Accepted: A's spec changes, then its trigger is gone.
	put(200, flow("A", "v3", every("3h")))
	if got := scheduledDefinition(t, c, a1); got != "" {
		t.Errorf("A's old spec's schedule %s is left, starting %q", a1, got)
	}
	if got, want := scheduledDefinition(t, c, a3), definition("A"); got != want {
		t.Errorf("A's new schedule %s starts %q, want %q", a3, got, want)
	}
	put(200, flow("A", "v4", ""))
	if got := scheduledDefinition(t, c, a3); got != "" {
		t.Errorf("A's schedule %s is left after its trigger was taken off, starting %q", a3, got)
	}
	if got := scheduledDefinition(t, c, a2); got != "other" {
		t.Errorf("the other process's schedule %s starts %q, want %q", a2, got, "other")
	}
}
