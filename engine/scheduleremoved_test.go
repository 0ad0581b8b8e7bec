package engine

import (
	"context"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// heldClaims is a broker whose ClaimTick (TickClaimer) says it was asked
// (asked), then waits for release or for the claim's context to end.
type heldClaims struct {
	*MemoryBroker
	asked, release chan struct{}
}

func (b *heldClaims) ClaimTick(ctx context.Context, schedule string, tick time.Time, holder string) (bool, error) {
	b.asked <- struct{}{}
	select {
	case <-b.release:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (b *heldClaims) LatestClaim(context.Context, string) (time.Time, string, error) {
	return time.Time{}, "", nil
}

// A flow redefined without its schedule starts no run of the schedule
// once the redefinition is in effect, not even of a tick its schedule was
// starting as it came: the schedule has stopped when LoadFlows (PUT
// /flows) returns.
func TestScheduleRemovedByAReloadStartsNothingAfterIt(t *testing.T) {
	st := store.NewMemory()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC))
	b := &heldClaims{MemoryBroker: NewMemoryBroker(), asked: make(chan struct{}, 1), release: make(chan struct{})}
	e := workEngine(t, Options{Store: st, Clock: clock, Broker: b}, tickFlow)
	clock.BlockUntil(1)
	clock.Advance(30 * time.Second) // 00:01: the schedule is starting its tick
	<-b.asked
	untriggered := `{"version": 1, "flows": [{"name": "Tick", "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}]}`
	if ds, err := e.LoadFlows("flows.json", []byte(untriggered)); err != nil {
		t.Fatal(err, ds)
	}
	close(b.release)  // a claim still asked is granted now
	closeEngine(t, e) // its schedules have stopped once Close returns
	if runs, _ := st.List(store.Filter{Flow: "Tick"}); len(runs) != 0 {
		t.Fatalf("runs after the schedule was removed: %+v", runs)
	}
}
