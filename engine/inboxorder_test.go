package engine

import (
	"fmt"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Awaited events published together reach the inbox in batches (the
// MemoryBroker is a BatchBroker), recorded in the order the broker
// delivered them, and that order survives a restart: runs awaiting one
// correlation value, started one after another after the restart, take the
// events oldest first.
func TestAwaitedEventsKeepBrokerOrder(t *testing.T) {
	dir := t.TempDir()
	broker := NewMemoryBroker()
	effects := &ledger{}
	st := openStore(t, dir)
	opts := Options{Store: st, Broker: broker, ID: "gen"}
	e := startGenEngine(t, opts, effects, 0)
	const n = 40
	for i := 1; i <= n; i++ {
		publish(t, broker, fmt.Sprint("pay-", i), "payments", "order.paid", map[string]any{"correlation_id": "x", "amount": i})
	}
	waitFor(t, "every payment pending", func() bool {
		return len(inboxOf(t, st, store.MessageFilter{State: store.MessagePending})) == n
	})
	closeEngine(t, e)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, dir)
	defer st.Close()
	for i, m := range inboxOf(t, st, store.MessageFilter{}) {
		if want := fmt.Sprint("pay-", i+1); m.ID != want {
			t.Fatalf("inbox message %d is %s, want %s", i, m.ID, want)
		}
	}
	opts.Store = st
	e = startGenEngine(t, opts, effects, 0)
	defer closeEngine(t, e)
	for i := 1; i <= 5; i++ {
		id := startOrder(t, e, "x")
		waitFor(t, "run done", func() bool { i, _ := st.Get(id); return i.State == runtime.StateDone })
		if s, _ := orderState(t, e, id); s.Payment.Amount != i {
			t.Fatalf("run %d took the payment of %d, want %d", i, s.Payment.Amount, i)
		}
	}
}
