package natsbus

import (
	"context"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// scheduleFlow starts a run every minute; its step does nothing.
const scheduleFlow = `{"version": 1, "flows": [{
  "name": "Tick",
  "triggers": [{"kind": "schedule", "schedule": "@every 1m"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]
}]}`

// tickEngine starts an engine of the Tick flow on st and the stream of s,
// as a flowgen serve process on -nats with a store of its own.
func tickEngine(t *testing.T, b *Broker, st engine.Store, clock runtime.Clock, id string) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Options{Store: st, Broker: b, Clock: clock, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Work", func(ctx context.Context, s *engine.State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("tick.json", []byte(scheduleFlow)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopEngine(t, node{e: e}) })
	return e
}

func tickRuns(st engine.Store) []string {
	runs, _ := st.List(store.Filter{Flow: "Tick"})
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.RunID
	}
	return ids
}

// Two processes with stores of their own share a stream, the same flow
// defined in each (flowgen serve -nats, one -id each): a schedule's tick
// starts one run among them, as an event trigger's message does, not one
// in each process; and a process restarted after ticks it missed does not
// start the latest of them again when the other process started it.
func TestScheduleOneRunPerTickAcrossProcesses(t *testing.T) {
	s := startServer(t, t.TempDir())
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC))
	stA, stB := store.NewMemory(), store.NewMemory()
	total := func() int { return len(tickRuns(stA)) + len(tickRuns(stB)) }
	tick := func(engines, want int) { // the next minute's tick, seen by the engines running
		t.Helper()
		clock.BlockUntil(engines)
		clock.Advance(time.Minute)
		waitFor(t, "the tick's run", func() bool { return total() >= want })
	}
	a := tickEngine(t, connect(t, s), stA, clock, "a")
	tick(1, 1) // 00:01:30: a alone has started 00:01
	tickEngine(t, connect(t, s), stB, clock, "b")
	tick(2, 2)          // 00:02:30
	clock.BlockUntil(2) // both have fired 00:02 and wait for 00:03
	if ra, rb := tickRuns(stA), tickRuns(stB); len(ra)+len(rb) != 2 {
		t.Fatalf("runs of the ticks 00:01 and 00:02: %v in a, %v in b; want one a tick", ra, rb)
	}

	// a is down over 00:03 and 00:04, which b starts alone; a comes back
	// at 00:04:30 and finds in its store a tick before them.
	stopEngine(t, node{e: a})
	tick(1, 3)
	tick(1, 4)
	tickEngine(t, connect(t, s), stA, clock, "a")
	clock.BlockUntil(2) // a has looked for a missed tick, and waits for 00:05
	if ra, rb := tickRuns(stA), tickRuns(stB); len(ra)+len(rb) != 4 {
		t.Fatalf("runs after a's restart: %v in a, %v in b; want the ticks 00:01 to 00:04 once each", ra, rb)
	}
}

// A process that dies between its claim of a tick and its run's first
// event, its store holding no run of the schedule yet, starts that tick
// when it comes back: the bucket tells it the tick is its own
// (LatestClaim), where its store says the flow never fired.
func TestScheduleTickClaimedBeforeACrashStarts(t *testing.T) {
	s := startServer(t, t.TempDir())
	tick := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	clock := runtime.NewFakeClock(tick.Add(30 * time.Second))
	b := connect(t, s)
	if mine, err := b.ClaimTick(context.Background(), engine.ScheduleKey("Tick", "@every 1m"), tick, "a"); err != nil || !mine {
		t.Fatalf("claim of the tick: %v, %v", mine, err)
	}
	st := store.NewMemory()
	tickEngine(t, b, st, clock, "a") // back, its store as it was
	clock.BlockUntil(1)              // a has looked for a missed tick, and waits for 00:02
	if runs := tickRuns(st); len(runs) != 1 {
		t.Fatalf("runs after a's restart: %v, want the tick 00:01's", runs)
	}
}
