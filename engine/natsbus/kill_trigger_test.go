package natsbus

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// triggerFlow starts a run per event on t/start; its one step is a Go
// step that the child process records.
const triggerFlow = `{"version": 1, "flows": [
 {"name": "Trig", "state": "TrigState", "triggers": [{"kind": "event", "topic": "t", "event": "start"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}
]}`

// triggerChild runs an engine of the Trig flow (triggerFlow) on the store
// and NATS server of the environment, appends a line per Work step run to
// FLOWGEN_EFFECTS, and exits 0 once FLOWGEN_WANT runs exist and none is
// unfinished, unless it is killed first.
func triggerChild() int {
	want, _ := strconv.Atoi(os.Getenv("FLOWGEN_WANT"))
	return effectsChild(triggerFlow, "Work", func(*engine.Engine, *store.Store) error { return nil }, "Trig", want)
}

// The engine process is killed (SIGKILL) while its trigger's consumers
// (EventWorkers of them, pulling ahead) start runs from a burst of
// events; every event JetStream acknowledged to its publisher starts
// exactly one run after a restart, and a run's step ran twice only if it
// was in flight at the kill.
func TestKillWhileStartingTriggeredRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const n = 400
	s := startServer(t, t.TempDir())
	dir, effects := t.TempDir(), filepath.Join(t.TempDir(), "effects")
	child := func() *exec.Cmd {
		return startChild(t, "FLOWGEN_ENGINE_CHILD=trigger", "FLOWGEN_STORE="+dir, "FLOWGEN_NATS="+s.ClientURL(),
			"FLOWGEN_EFFECTS="+effects, fmt.Sprint("FLOWGEN_WANT=", n))
	}
	lines := func() []string { return effectLines(effects) }
	b := connect(t, s)
	// The child's trigger consumer, before the events: one created later
	// starts at the messages published after it.
	ensureConsumer(t, b, "trigger-Trig", "t", "start")
	first := child()
	before := killWhilePublished(t, b, first, "start", n, func(i int) string { return fmt.Sprintf(`{"I":%d}`, i) }, lines)

	st := finishedBy(t, child(), dir)
	runs, _ := st.List(store.Filter{Flow: "Trig"})
	ids := map[string]bool{}
	for _, r := range runs {
		if r.State != runtime.StateDone {
			t.Errorf("run %s: %s", r.RunID, r.State)
		}
		ids[r.RunID] = true
	}
	for i := range n {
		if id := engine.EventRunID("Trig", "t", "start", fmt.Sprint("ev-", i)); !ids[id] {
			t.Errorf("event ev-%d: no run %s: an acknowledged event was lost", i, id)
		}
	}
	if len(runs) != n {
		t.Fatalf("%d runs, want %d", len(runs), n)
	}
	ranOnceButInFlight(t, lines(), before, n)
}
