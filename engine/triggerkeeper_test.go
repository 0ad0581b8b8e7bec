package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// keeperExecutor is an Executor whose triggers outlive the process, as
// jsonflows' Temporal Schedules: it records what the engine tells it, and
// fails to attach flow Bad.
type keeperExecutor struct {
	Executor // the rest is not called
	mu       sync.Mutex
	calls    []string
}

func (x *keeperExecutor) record(format string, args ...any) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.calls = append(x.calls, fmt.Sprintf(format, args...))
}

func (x *keeperExecutor) took() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	calls := x.calls
	x.calls = nil
	return calls
}

func schedules(f ExecFlow) string {
	var specs []string
	for _, t := range f.Triggers {
		if t.Kind == runtime.TriggerSchedule {
			specs = append(specs, t.Schedule)
		}
	}
	return f.Name + "[" + strings.Join(specs, ",") + "]"
}

func (x *keeperExecutor) Attach(_ context.Context, f ExecFlow) (func(), error) {
	if f.Name == "Bad" {
		return nil, errors.New("the schedule service is down")
	}
	x.record("attach %s", schedules(f))
	return func() {}, nil
}

func (x *keeperExecutor) Activate(_ context.Context, f ExecFlow) error {
	x.record("activate %s", schedules(f))
	return nil
}

func (x *keeperExecutor) Replaced(_ context.Context, old, now ExecFlow) error {
	x.record("replaced %s by %s", schedules(old), schedules(now))
	return nil
}

// A change of flows tells a TriggerKeeper how it ended: refused after a
// flow of it was attached, nothing is activated nor said replaced (the
// old definition is attached again, and its triggers, never touched, are
// not activated anew); accepted through LoadFlows, its flows are
// activated, then each flow it replaced is said replaced, once the change
// is saved; loaded from a directory, activated and none replaced (other
// processes may serve older files). Start activates what it attaches.
func TestTriggerKeeperFollowsTheChange(t *testing.T) {
	x := &keeperExecutor{}
	dir := t.TempDir()
	e, err := New(Options{Executor: x, FlowsDir: dir, NoGoHandlers: true})
	if err != nil {
		t.Fatal(err)
	}
	flow := func(name, spec string) string {
		return fmt.Sprintf(`{"name": %q, "triggers": [{"kind": "schedule", "schedule": %q}],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]}`, name, spec)
	}
	doc := func(flows ...string) []byte {
		return []byte(`{"version": 1, "flows": [` + strings.Join(flows, ",") + `]}`)
	}
	if ds, err := e.LoadFlows("a.json", doc(flow("A", "@every 1h"))); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	if got, want := x.took(), []string{"attach A[@every 1h]", "activate A[@every 1h]"}; !slices.Equal(got, want) {
		t.Fatalf("start: %q, want %q", got, want)
	}

	// Refused: A's new spec was attached, Bad failed.
	if _, err := e.LoadFlows("a.json", doc(flow("A", "@every 2h"), flow("Bad", "@every 1h"))); err == nil {
		t.Fatal("a change whose flow Bad failed to attach was accepted")
	}
	want := []string{"attach A[@every 2h]", "attach A[@every 1h]"}
	if got := x.took(); !slices.Equal(got, want) {
		t.Fatalf("refused change: %q, want %q", got, want)
	}

	// Accepted: A's old definition is replaced, once A's file is saved.
	if ds, err := e.LoadFlows("a.json", doc(flow("A", "@every 3h"))); err != nil {
		t.Fatal(err, ds)
	}
	want = []string{"attach A[@every 3h]", "activate A[@every 3h]", "replaced A[@every 1h] by A[@every 3h]"}
	if got := x.took(); !slices.Equal(got, want) {
		t.Fatalf("accepted change: %q, want %q", got, want)
	}
	if src, err := os.ReadFile(filepath.Join(dir, "A.json")); err != nil || !strings.Contains(string(src), "@every 3h") {
		t.Fatalf("A.json: %s, %v", src, err)
	}

	// A directory that redefines A replaces nothing outside the process.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "a.json"), doc(flow("A", "@every 4h")), 0o644); err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadDir(other); err != nil {
		t.Fatal(err, ds)
	}
	if got, want := x.took(), []string{"attach A[@every 4h]", "activate A[@every 4h]"}; !slices.Equal(got, want) {
		t.Fatalf("LoadDir: %q, want %q", got, want)
	}
}
