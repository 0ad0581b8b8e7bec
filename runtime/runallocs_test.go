//go:build !race

// The race detector makes sync.Pool (the flow's machines) drop what it is
// given at random, so that allocations are not counted under it.

package runtime_test

import (
	"context"
	"testing"

	"github.com/looplab/fsm"

	"github.com/flowgen/flowgen/runtime"
)

// TestRunOwnAllocations bounds the allocations a run makes of its own, on
// top of its machine's: allocations are what issue 8's in-memory budget
// mostly pays for (their making, and the collections they cause), and
// unlike time they do not depend on the machine's load. The machine's
// share is measured, not assumed: raw looplab/fsm's allocations per
// event times the run's events (11 for 10 steps). What the run allocates
// beyond that, with the memory sink and no run options: the Run, its
// context, progress (2), first snapshot, ID, first-attempt contexts, end,
// and the sink's history (2). A channel for Suspend and the options, which
// most runs never use, are not among them.
func TestRunOwnAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations of many runs")
	}
	sink := runtime.NewMemorySink()
	f := benchFlow(sink)
	ctx := context.Background()
	runs := 0
	flowAllocs := testing.AllocsPerRun(200, func() {
		if runs++; runs%64 == 0 {
			sink.Reset()
		}
		if _, err := f.Execute(ctx, benchState{ID: "x"}); err != nil {
			t.Fatal(err)
		}
	})
	m := fsm.NewFSM("pending", rawEvents, nil)
	rawAllocs := testing.AllocsPerRun(200, func() {
		m.SetState("pending")
		for _, name := range rawNames {
			if err := m.Event(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
	})
	machine := rawAllocs / benchSteps * (benchSteps + 1)
	const want = 11
	if own := flowAllocs - machine; own > want {
		t.Errorf("a 10-step run allocates %.1f times, %.1f of them its own (want at most %d); its machine's %.1f", flowAllocs, own, want, machine)
	}
}
