package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// retainingStore is a store that removes finished runs after retain, as
// a *store.Store with Options.Retain does.
type retainingStore struct {
	*store.Memory
	retain time.Duration
}

func (s retainingStore) Retain() time.Duration { return s.retain }

// A missed tick older than the store's retention does not fire at start:
// its run may have fired, ended and been removed, while the run of an
// earlier tick, not over, is still there. The start found that earlier
// tick the latest that fired and fired the removed one again: a second run
// of the same tick. A tick within the retention still catches up.
func TestScheduleSkipsMissedTickOlderThanRetention(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	missed := t1.Add(time.Minute)
	for _, c := range []struct {
		retain time.Duration
		fires  bool
	}{{30 * time.Second, false}, {time.Hour, true}} {
		t.Run(c.retain.String(), func(t *testing.T) {
			mem := store.NewMemory()
			// The 00:01 tick's run, not over; the 00:02 tick's ran and
			// was removed, or was missed: the store cannot tell.
			if err := mem.Emit(context.Background(), runtime.Event{RunID: tickRunID("Tick", "@every 1m", t1), Seq: 1, Time: t1,
				Flow: "Tick", Step: "Work", From: runtime.MachinePending, To: "Work:running", State: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
			clock := runtime.NewFakeClock(missed.Add(50 * time.Second))
			e := tickEngine(t, retainingStore{mem, c.retain}, clock, nil, &ledger{})
			defer closeEngine(t, e)
			clock.BlockUntil(1) // the schedule has looked for missed ticks
			if _, fired := mem.Get(tickRunID("Tick", "@every 1m", missed)); fired != c.fires {
				t.Fatalf("with a retention of %v, the missed 00:02 tick fired: %v, want %v", c.retain, fired, c.fires)
			}
		})
	}
}
