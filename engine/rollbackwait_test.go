package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// compensateFlows: Order pays, then fails to ship; Pay's rollback is a
// call of Refund, which awaits the bank's confirmation before it ends.
const compensateFlows = `{"version": 1, "flows": [
 {"name": "Order", "state": "OrderState", "steps": [
  {"name": "Pay", "action": {"kind": "go"}, "rollback": {"action": {"kind": "call", "flow": "Refund", "request": "Payment"}}},
  {"name": "Ship", "action": {"kind": "go"}, "irreversible": true}]},
 {"name": "Refund", "state": "Payment", "steps": [
  {"name": "Confirmed", "action": {"kind": "await", "topic": "bank", "event": "refunded", "correlate": "ID", "timeout": "72h"}, "irreversible": true}]},
 {"name": "Other", "steps": [{"name": "Hold", "action": {"kind": "go"}, "irreversible": true}]}
]}`

// startCompensate starts an engine of opts with compensateFlows, whose Go
// steps Order.Pay and Order.Ship are pay and ship (Other.Hold does
// nothing); it closes when the test ends.
func startCompensate(t *testing.T, opts Options, pay, ship Handler) *Engine {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Order.Pay", pay)
	e.Registry().Step("Order.Ship", ship)
	e.Registry().Step("Other.Hold", func(context.Context, *State) (runtime.Outcome, error) { return "", nil })
	if ds, err := e.LoadFlows("flows.json", []byte(compensateFlows)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// A run whose compensation waits days for an event holds no slot of the
// runs in flight meanwhile: with MaxRunning 1, another run starts while
// the first waits in its rollback, and the bank's event ends the first
// compensated.
func TestRollbackCallWaitHoldsNoSlot(t *testing.T) {
	broker := NewMemoryBroker()
	st := store.NewMemory()
	e := startCompensate(t, Options{Store: st, Broker: broker, MaxRunning: 1},
		func(_ context.Context, s *State) (runtime.Outcome, error) {
			return "", s.Set("Payment", map[string]string{"ID": "pay-1"})
		},
		func(context.Context, *State) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("no parcel service"))
		})
	id, err := e.StartRun(context.Background(), "Order", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the order parked in its rollback and the refund on its await", func() bool {
		s, err := e.Status(context.Background(), id)
		return err == nil && s.Machine == "Pay:rollback" && e.Parked() == 1 && e.Stats().Running == 0
	})
	if s := e.Stats(); s.Waiting != 2 {
		t.Fatalf("stats %+v: want the order and its refund waiting", s)
	}
	other, err := e.StartRun(context.Background(), "Other", nil, "")
	if err != nil {
		t.Fatalf("a start while the only run in flight waits in its rollback: %v", err)
	}
	waitFor(t, "the other run done", func() bool { i, _ := st.Get(other); return i.State == runtime.StateDone })
	publish(t, broker, "refund-1", "bank", "refunded", map[string]any{"correlation_id": "pay-1"})
	waitFor(t, "the order compensated", func() bool { i, _ := st.Get(id); return i.State == runtime.StateCompensated })
}
