package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A schedule's spec is read with its white space ignored, and so is it
// when a tick's run ID is made: two engines sharing a store whose
// definitions of a flow write one schedule with other spaces (a file
// edited by hand on one machine) start one run per tick, not one each,
// and a redefinition that only respaces the spec still finds its fired
// ticks at start.
func TestScheduleSpecSpacing(t *testing.T) {
	st := store.NewMemory()
	locker := NewLocker()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC))
	for i, spec := range []string{"@every 1m", "  @every   1m "} {
		e, err := New(Options{Store: st, Clock: clock, Locker: locker, ID: "e" + itoa(int64(i))})
		if err != nil {
			t.Fatal(err)
		}
		e.Registry().Step("Work", func(ctx context.Context, s *State) (string, error) { return "", nil })
		if ds, err := e.LoadFlows("tick.json", []byte(strings.Replace(tickFlow, `"@every 1m"`, `"`+spec+`"`, 1))); err != nil {
			t.Fatal(err, ds)
		}
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer closeEngine(t, e)
	}
	clock.BlockUntil(2)
	clock.Advance(30 * time.Second) // 00:01, seen by both engines
	waitFor(t, "the tick's run", func() bool { return doneRuns(st, "Tick") >= 1 })
	clock.BlockUntil(2) // both have fired 00:01 and wait for 00:02
	if runs, _ := st.List(store.Filter{Flow: "Tick"}); len(runs) != 1 {
		var ids []string
		for _, r := range runs {
			ids = append(ids, r.RunID)
		}
		t.Fatalf("runs of the tick 00:01: %v, want one", ids)
	}
}
