package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// claimsBroker is a MemoryBroker that is a TickClaimer, as natsbus is:
// the latest tick granted of each schedule, and to whom.
type claimsBroker struct {
	*MemoryBroker
	mu     sync.Mutex
	claims map[string]tickGrant
}

type tickGrant struct {
	tick   time.Time
	holder string
}

func newClaimsBroker() *claimsBroker {
	return &claimsBroker{MemoryBroker: NewMemoryBroker(), claims: map[string]tickGrant{}}
}

func (b *claimsBroker) ClaimTick(_ context.Context, schedule string, tick time.Time, holder string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, ok := b.claims[schedule]; ok && !cur.tick.Before(tick) {
		return cur.tick.Equal(tick) && cur.holder == holder, nil
	}
	b.claims[schedule] = tickGrant{tick, holder}
	return true, nil
}

func (b *claimsBroker) LatestClaim(_ context.Context, schedule string) (time.Time, string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.claims[schedule]
	return cur.tick, cur.holder, nil
}

// An engine that died between its claim of a tick on the broker and its
// run's first event, before any run of the schedule was in its store,
// starts that tick when it comes back (no other engine does:
// ClaimTick): its store alone said the flow never fired, so the tick was
// lost for ever. A tick granted to another engine, or no tick granted,
// starts nothing (a flow that never fired does not catch up).
func TestTickGrantedBeforeACrashStartsAfterIt(t *testing.T) {
	tick := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	key := ScheduleKey("Tick", "@every 1m")
	for _, tc := range []struct {
		name    string
		granted *tickGrant
		starts  bool
	}{
		{"granted to it", &tickGrant{tick, "a"}, true},
		{"granted to another", &tickGrant{tick, "b"}, false},
		{"never granted", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := store.NewMemory()
			clock := runtime.NewFakeClock(tick.Add(30 * time.Second))
			b := newClaimsBroker()
			if tc.granted != nil {
				b.claims[key] = *tc.granted
			}
			workEngine(t, Options{Store: st, Clock: clock, Broker: b, ID: "a"}, tickFlow)
			clock.BlockUntil(1) // the schedule has looked for a missed tick, and waits for 00:02
			_, started := st.Get(tickRunID("Tick", "@every 1m", tick))
			if started != tc.starts {
				runs, _ := st.List(store.Filter{Flow: "Tick"})
				t.Fatalf("the tick's run started: %v, want %v (runs %+v)", started, tc.starts, runs)
			}
		})
	}
}
