package jsonflows

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// scheduleFlow is a JSON flows document of flow A with a schedule trigger
// of spec.
func scheduleFlow(doc, spec string) string {
	return `{"version": 1, "flows": [{"name": "A", "doc": "` + doc + `", "triggers": [{"kind": "schedule", "schedule": "` + spec + `"}],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]}]}`
}

// A flow redefined with only the white space of its spec changed keeps
// its one schedule, under one ID, as the engine keeps naming its ticks'
// runs alike (runtime.CanonicalSchedule): the redefinition points that
// schedule at the new definition, and makes no other.
func TestScheduleIDIgnoresWhiteSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	c := ts.GetDefaultClient()
	w := &writes{Client: c}
	e, url := serveEngine(t, engine.Options{Executor: New(w, Options{TaskQueue: "schedule-id-test"}),
		FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: engine.JSONOnly})
	put := func(doc, spec string) string {
		t.Helper()
		if status, _, answer := request(t, "PUT", url+"/flows", scheduleFlow(doc, spec)); status != 200 {
			t.Fatalf("PUT /flows: %d %s, want 200", status, answer)
		}
		src, err := e.FlowJSON("A")
		if err != nil {
			t.Fatal(err)
		}
		return string(src)
	}
	id := scheduleID("A", "@every 1h")

	v1 := put("v1", "@every 1h")
	if got := scheduledDefinition(t, c, id); got != v1 {
		t.Fatalf("schedule %s starts %q, want %q", id, got, v1)
	}
	w.took()
	v2 := put("v2", "@every  1h")
	if got := scheduledDefinition(t, c, id); got != v2 {
		t.Errorf("after the respaced spec, schedule %s starts %q, want %q", id, got, v2)
	}
	// The ID of "@every  1h" as written, which older code gave it.
	if written := "flowgen-schedule-A-bcacd4c70eb0"; scheduledDefinition(t, c, written) != "" {
		t.Errorf("the respaced spec has a schedule of its own, %s", written)
	}
	for _, op := range w.took() {
		if strings.HasPrefix(op, "create") && !strings.HasSuffix(op, " "+id) {
			t.Errorf("the respaced spec made a second schedule: %s", op)
		}
	}
}

// A deployment upgraded from processes that named a schedule by its spec
// as written: the schedule they made for a spec spaced otherwise than in
// canonical form, still there, gives way to the one under the canonical
// ID when a process attaches the flow, so that one schedule, not two,
// ticks for the spec; an operator's change of the spec deletes it with
// the schedule of the spec, if an older process made it again. The old ID
// is written out, as older code computed it, not taken from the executor.
func TestScheduleOfAnOldIDIsReplaced(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	c := ts.GetDefaultClient()
	ctx := context.Background()
	const spec, old = "0  3 * * *", "flowgen-schedule-A-6c1f61859e90"
	// What an older process makes of the flow (its action does not
	// matter: the schedule must go).
	makeOld := func() {
		t.Helper()
		if _, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{ID: old,
			Spec:   client.ScheduleSpec{CronExpressions: []string{spec}},
			Action: &client.ScheduleWorkflowAction{ID: old, Workflow: "A", TaskQueue: "schedule-old-id-test"}}); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(id string) bool {
		t.Helper()
		_, err := c.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
		if err != nil && !isNotFound(err) {
			t.Fatalf("describing schedule %s: %v", id, err)
		}
		return err != nil
	}
	makeOld()

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "A.json"), []byte(scheduleFlow("v1", spec)), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{Executor: New(c, Options{TaskQueue: "schedule-old-id-test"}),
		FlowsDir: dir, NoGoHandlers: true, FlowFile: engine.JSONOnly})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadDir(dir); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	src, err := e.FlowJSON("A")
	if err != nil {
		t.Fatal(err)
	}
	if got, id := scheduledDefinition(t, c, scheduleID("A", spec)), scheduleID("A", spec); got != string(src) {
		t.Errorf("schedule %s starts %q, want %q", id, got, src)
	}
	if !gone(old) {
		t.Errorf("the schedule %s of the old ID is still there: two schedules tick for %q", old, spec)
	}

	// An older process that starts again makes it again; an operator's
	// change of the spec then deletes both.
	makeOld()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	if status, _, answer := request(t, "PUT", srv.URL+"/flows", scheduleFlow("v2", "0 4 * * *")); status != 200 {
		t.Fatalf("PUT /flows: %d %s, want 200", status, answer)
	}
	for _, id := range []string{scheduleID("A", spec), old} {
		if !gone(id) {
			t.Errorf("schedule %s of the replaced spec %q is still there", id, spec)
		}
	}
}
