package jsonflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// writes is a client that records every call that changes something on
// the cluster (a schedule made, changed, deleted, triggered; a workflow
// started, signalled, cancelled, terminated), and whose Temporal fails
// every call about schedule down, as a cluster that fails for one
// schedule does; with writesOnly, every call that would change it.
type writes struct {
	client.Client
	down       string
	writesOnly bool

	mu   sync.Mutex
	seen []string
}

// fails says whether a call about schedule id fails, write saying whether
// it changes it.
func (w *writes) fails(id string, write bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if id != w.down || !write && w.writesOnly {
		return nil
	}
	return errors.New("schedule " + w.down + " is down")
}

// setDown makes the calls about schedule id fail from now on ("": none).
func (w *writes) setDown(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.down = id
}

func (w *writes) note(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, fmt.Sprintf(format, args...))
}

// took returns the writes recorded since the last call.
func (w *writes) took() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := w.seen
	w.seen = nil
	return seen
}

func (w *writes) ScheduleClient() client.ScheduleClient {
	return writesSchedules{w.Client.ScheduleClient(), w}
}

func (w *writes) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	w.note("start workflow %s", o.ID)
	return w.Client.ExecuteWorkflow(ctx, o, wf, args...)
}

func (w *writes) SignalWorkflow(ctx context.Context, id, run, name string, arg any) error {
	w.note("signal %s %s", id, name)
	return w.Client.SignalWorkflow(ctx, id, run, name, arg)
}

func (w *writes) SignalWithStartWorkflow(ctx context.Context, id, name string, arg any, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	w.note("signal-with-start %s %s", id, name)
	return w.Client.SignalWithStartWorkflow(ctx, id, name, arg, o, wf, args...)
}

func (w *writes) CancelWorkflow(ctx context.Context, id, run string) error {
	w.note("cancel %s", id)
	return w.Client.CancelWorkflow(ctx, id, run)
}

func (w *writes) TerminateWorkflow(ctx context.Context, id, run, reason string, details ...any) error {
	w.note("terminate %s", id)
	return w.Client.TerminateWorkflow(ctx, id, run, reason, details...)
}

type writesSchedules struct {
	client.ScheduleClient
	w *writes
}

func (s writesSchedules) Create(ctx context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	if err := s.w.fails(o.ID, true); err != nil {
		return nil, err
	}
	s.w.note("create schedule %s", o.ID)
	return s.ScheduleClient.Create(ctx, o)
}

func (s writesSchedules) GetHandle(ctx context.Context, id string) client.ScheduleHandle {
	return writesSchedule{s.ScheduleClient.GetHandle(ctx, id), s.w}
}

type writesSchedule struct {
	client.ScheduleHandle
	w *writes
}

func (h writesSchedule) Describe(ctx context.Context) (*client.ScheduleDescription, error) {
	if err := h.w.fails(h.GetID(), false); err != nil {
		return nil, err
	}
	return h.ScheduleHandle.Describe(ctx)
}

func (h writesSchedule) Update(ctx context.Context, o client.ScheduleUpdateOptions) error {
	if err := h.w.fails(h.GetID(), true); err != nil {
		return err
	}
	h.w.note("update schedule %s", h.GetID())
	return h.ScheduleHandle.Update(ctx, o)
}

func (h writesSchedule) Delete(ctx context.Context) error {
	if err := h.w.fails(h.GetID(), true); err != nil {
		return err
	}
	h.w.note("delete schedule %s", h.GetID())
	return h.ScheduleHandle.Delete(ctx)
}

func (h writesSchedule) Trigger(ctx context.Context, o client.ScheduleTriggerOptions) error {
	h.w.note("trigger schedule %s", h.GetID())
	return h.ScheduleHandle.Trigger(ctx, o)
}

func (h writesSchedule) Pause(ctx context.Context, o client.SchedulePauseOptions) error {
	h.w.note("pause schedule %s", h.GetID())
	return h.ScheduleHandle.Pause(ctx, o)
}

func (h writesSchedule) Unpause(ctx context.Context, o client.ScheduleUnpauseOptions) error {
	h.w.note("unpause schedule %s", h.GetID())
	return h.ScheduleHandle.Unpause(ctx, o)
}

// A refused PUT /flows changes nothing on the cluster, not even for a
// while: the change's flows attached before the one whose schedule fails
// (A with a new spec, a new flow C) made no schedule, changed none, and
// started or signalled nothing, so no tick can start a run of a
// definition the server refused. Once a change is accepted, its
// schedules are made.
func TestRefusedPutWritesNothingToTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	c := ts.GetDefaultClient()
	w := &writes{Client: c, down: scheduleID("Bad", "@every 5h")}
	_, url := serveEngine(t, engine.Options{Executor: New(w, Options{TaskQueue: "refused-change-test"}),
		FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: engine.JSONOnly})
	flow := func(name, doc string, specs ...string) string {
		var triggers []string
		for _, s := range specs {
			triggers = append(triggers, `{"kind": "schedule", "schedule": "`+s+`"}`)
		}
		return fmt.Sprintf(`{"name": %q, "doc": %q, "triggers": [%s],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]}`, name, doc, strings.Join(triggers, ","))
	}
	put := func(want int, flows ...string) {
		t.Helper()
		if status, _, answer := request(t, "PUT", url+"/flows", `{"version": 1, "flows": [`+strings.Join(flows, ",")+`]}`); status != want {
			t.Fatalf("PUT /flows: %d %s, want %d", status, answer, want)
		}
	}

	put(200, flow("A", "v1", "@every 1h"))
	a1 := scheduleID("A", "@every 1h")
	if got, want := w.took(), []string{"create schedule " + a1}; strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("accepted PUT: writes %q, want %q", got, want)
	}

	// Refused by the engine's checks (409: A's rpc endpoint is R's).
	rpc := strings.Replace(flow("A", "v2", "@every 2h"), `"triggers": [`, `"triggers": [{"kind": "rpc", "endpoint": "R.Start"}, `, 1)
	put(200, strings.Replace(flow("R", "", "@every 3h"), `"triggers": [`, `"triggers": [{"kind": "rpc", "endpoint": "R.Start"}, `, 1))
	w.took()
	put(409, rpc, flow("C", "", "@every 1h"))
	if got := w.took(); len(got) != 0 {
		t.Errorf("a PUT /flows refused by its checks wrote to the cluster: %q", got)
	}
	// Refused once attached: A's new spec and C were attached before Bad
	// failed to be.
	put(500, flow("A", "v2", "@every 2h"), flow("C", "", "@every 1h"), flow("Bad", "", "@every 1h", "@every 5h"))
	if got := w.took(); len(got) != 0 {
		t.Errorf("a refused PUT /flows wrote to the cluster: %q", got)
	}
	for _, id := range []string{scheduleID("A", "@every 2h"), scheduleID("C", "@every 1h"), scheduleID("Bad", "@every 1h")} {
		if got := scheduledDefinition(t, c, id); got != "" {
			t.Errorf("the refused change left schedule %s, starting %q", id, got)
		}
	}
	if got := scheduledDefinition(t, c, a1); !strings.Contains(got, `"v1"`) {
		t.Errorf("after the refused change, schedule %s starts %q, want A's v1", a1, got)
	}
}

// A change accepted stands when the cluster then fails to make its
// schedule, or to delete the schedule of the spec it replaced: the
// executor keeps trying, and the schedules come to follow the flows
// registered once the cluster answers.
func TestScheduleFollowsItsFlowAfterAFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	c := ts.GetDefaultClient()
	a1, a2 := scheduleID("A", "@every 1h"), scheduleID("A", "@every 2h")
	w := &writes{Client: c, down: a1, writesOnly: true}
	logged := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logged, nil))
	e, url := serveEngine(t, engine.Options{Executor: New(w, Options{TaskQueue: "schedule-failure-test", Logger: log}),
		FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: engine.JSONOnly})
	put := func(spec string) {
		t.Helper()
		doc := `{"version": 1, "flows": [{"name": "A", "triggers": [{"kind": "schedule", "schedule": "` + spec + `"}],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]}]}`
		if status, _, answer := request(t, "PUT", url+"/flows", doc); status != 200 {
			t.Fatalf("PUT /flows: %d %s, want 200", status, answer)
		}
	}
	until := func(what string, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(time.Minute); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("a minute passed, and not %s", what)
			}
		}
	}
	definition := func() string {
		t.Helper()
		src, err := e.FlowJSON("A")
		if err != nil {
			t.Fatal(err)
		}
		return string(src)
	}

	put("@every 1h") // a1 cannot be made
	// Each failed background try is logged, not only the first failure
	// (which the engine logs), and so is the try that succeeds.
	until("a failed background try logged", func() bool { return strings.Contains(logged.String(), "still refuses") })
	w.setDown("")
	until("schedule "+a1+" made", func() bool { return scheduledDefinition(t, c, a1) == definition() })
	until("the successful try logged", func() bool { return strings.Contains(logged.String(), "took what a committed flow change needs") })

	w.setDown(a1)
	put("@every 2h") // a1 cannot be deleted
	if got := scheduledDefinition(t, c, a2); got != definition() {
		t.Fatalf("schedule %s starts %q, want %q", a2, got, definition())
	}
	w.setDown("")
	until("schedule "+a1+" of the replaced spec deleted", func() bool { return scheduledDefinition(t, c, a1) == "" })
}

// A serve process whose start fails (the cluster fails for a schedule of
// its flows directory's flow Bad) has written nothing to the cluster:
// the schedule of flow A, attached before Bad, was not made.
func TestFailedStartWritesNothingToTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	w := &writes{Client: ts.GetDefaultClient(), down: scheduleID("Bad", "@every 5h")}
	dir := t.TempDir()
	for name, specs := range map[string]string{"A": "@every 1h", "Bad": "@every 5h"} {
		doc := `{"version": 1, "flows": [{"name": "` + name + `", "triggers": [{"kind": "schedule", "schedule": "` + specs + `"}],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]}]}`
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e, err := engine.New(engine.Options{Executor: New(w, Options{TaskQueue: "failed-start-test"}),
		FlowsDir: dir, NoGoHandlers: true, FlowFile: engine.JSONOnly})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadDir(dir); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err == nil {
		t.Fatal("Start succeeded, though the cluster fails for flow Bad's schedule")
	}
	if got := w.took(); len(got) != 0 {
		t.Errorf("a failed start wrote to the cluster: %q", got)
	}
}
