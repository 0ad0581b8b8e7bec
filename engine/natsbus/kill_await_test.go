package natsbus

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// awaitChild runs an engine of the Wait flow (waitFlow) on the store and
// NATS server of the environment: it starts FLOWGEN_START runs first (k0,
// k1, ...) if set, appends a line per After step run to FLOWGEN_EFFECTS,
// and exits 0 once no run is unfinished, unless it is killed first.
func awaitChild() int {
	return effectsChild(waitFlow, "After", func(e *engine.Engine, st *store.Store) error {
		n, _ := strconv.Atoi(os.Getenv("FLOWGEN_START"))
		for i := range n {
			if _, err := e.StartRun(context.Background(), "Wait", json.RawMessage(fmt.Sprintf(`{"Key":"k%d"}`, i)), fmt.Sprint("run-", i)); err != nil {
				return err
			}
		}
		return nil
	}, "Wait", 1)
}

// effectsChild runs, in a child process, an engine of the flows of
// flowJSON on the store and NATS server of the environment, whose Go step
// step appends a line per run of it to FLOWGEN_EFFECTS ("RUN KEY"); then
// does what then does, and exits 0 once flow has want runs and none
// unfinished (untilFinished), unless it is killed first.
func effectsChild(flowJSON, step string, then func(*engine.Engine, *store.Store) error, flow string, want int) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	// What the killed engine had pulled and not acknowledged comes back
	// after AckWait: short, so that the test does not wait the default 30s.
	st, b, closeAll, err := childStoreAndBroker(Options{Redeliver: 10 * time.Millisecond, AckWait: 2 * time.Second})
	if err != nil {
		return fail(err)
	}
	defer closeAll()
	effects, err := os.OpenFile(os.Getenv("FLOWGEN_EFFECTS"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fail(err)
	}
	defer effects.Close()
	e, err := engine.New(engine.Options{Store: st, Broker: b, ID: "killed"})
	if err != nil {
		return fail(err)
	}
	var mu sync.Mutex
	e.Registry().Step(step, func(ctx context.Context, _ *engine.State) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(effects, "%s %s\n", runtime.RunID(ctx), runtime.IdempotencyKey(ctx))
		return "", err
	})
	if ds, err := e.LoadFlows("flows.json", []byte(flowJSON)); err != nil {
		return fail(fmt.Errorf("%v %v", err, ds))
	}
	if err := e.Start(context.Background()); err != nil {
		return fail(err)
	}
	if err := then(e, st); err != nil {
		return fail(err)
	}
	return untilFinished(e, st, flow, want)
}

// The engine is killed (SIGKILL) while it applies a burst of awaited
// events, which its inbox takes from JetStream in batches; every event
// JetStream acknowledged to its publisher is applied after a restart, each
// run's step after the await ran, and a step ran twice only if it was in
// flight at the kill.
func TestKillWhileApplyingAwaitedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const n = 400
	s := startServer(t, t.TempDir())
	dir, effects := t.TempDir(), filepath.Join(t.TempDir(), "effects")
	child := func(start int) *exec.Cmd {
		return startChild(t, "FLOWGEN_ENGINE_CHILD=await", "FLOWGEN_STORE="+dir, "FLOWGEN_NATS="+s.ClientURL(),
			"FLOWGEN_EFFECTS="+effects, fmt.Sprint("FLOWGEN_START=", start))
	}
	lines := func() []string { return effectLines(effects) }
	first := child(n)
	waitFor(t, "every run parked on its await", func() bool {
		st, err := store.OpenReadOnly(dir)
		if err != nil {
			return false
		}
		defer st.Close()
		runs, _ := st.List(store.Filter{Flow: "Wait", NonTerminal: true})
		waiting := 0
		for _, r := range runs {
			if r.Machine == "Await:waiting" {
				waiting++
			}
		}
		return waiting == n
	})
	// Publish every event (JetStream acknowledges each before Publish
	// returns), and kill the engine once about a quarter were applied.
	b := connect(t, s)
	before := killWhilePublished(t, b, first, "go", n, func(i int) string { return fmt.Sprintf(`{"correlation_id":"k%d"}`, i) }, lines)

	st := finishedBy(t, child(0), dir)
	runs, _ := st.List(store.Filter{Flow: "Wait"})
	doneRuns := 0
	for _, r := range runs {
		if r.State == runtime.StateDone {
			doneRuns++
		}
	}
	if len(runs) != n || doneRuns != n {
		t.Fatalf("%d runs, %d done; want %d done: acknowledged events were lost", len(runs), doneRuns, n)
	}
	ranOnceButInFlight(t, lines(), before, n)
}

// killWhilePublished publishes n events ev-0, ev-1, ... on t/event
// (payload(i) each; JetStream acknowledges each before Publish returns),
// kills the engine process child (SIGKILL) once a quarter of n effects
// lines are written, waits for every publication, and returns how many
// lines there were at the kill.
func killWhilePublished(t *testing.T, b *Broker, child *exec.Cmd, event string, n int, payload func(int) string, lines func() []string) int {
	t.Helper()
	published := make(chan error, 1)
	go func() {
		for i := range n {
			m := engine.Message{ID: fmt.Sprint("ev-", i), Topic: "t", Event: event, Payload: json.RawMessage(payload(i))}
			if err := b.Publish(context.Background(), m); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	waitFor(t, "a quarter of the steps run", func() bool { return len(lines()) >= n/4 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	before := len(lines())
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	return before
}

// effectLines are the lines of the effects file at path, each "RUN KEY"
// for a step run.
func effectLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		out = append(out, sc.Text())
	}
	return out
}

// ranOnceButInFlight checks that the step of the effects lines ran for n
// runs, and again only if it was in flight at the kill: its first run is
// among the first before lines, written before the kill, and it runs
// twice at most.
func ranOnceButInFlight(t *testing.T, lines []string, before, n int) {
	t.Helper()
	ran, beforeKill := map[string]int{}, map[string]bool{}
	for i, l := range lines {
		id := strings.Fields(l)[0]
		ran[id]++
		if i < before {
			beforeKill[id] = true
		}
	}
	if len(ran) != n {
		t.Fatalf("the step ran for %d runs, want %d", len(ran), n)
	}
	twice := 0
	for id, c := range ran {
		if c > 1 {
			twice++
			if c > 2 || !beforeKill[id] {
				t.Errorf("%s ran its step %d times, the first after the kill: not a step in flight at the kill", id, c)
			}
		}
	}
	t.Logf("%d runs, killed after %d steps ran; %d ran twice", n, before, twice)
}
