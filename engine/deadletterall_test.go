package engine

import (
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A dead letter is dead for every consumer of its topic and event: a
// message that two flows' event triggers take, which one cannot start
// from, starts no run of the other either, whichever trigger's consumer
// gets it first, as POST /events refuses it (400) for both. The other
// flow's consumer started its run while the first dead-lettered it.
func TestDeadLetterStartsNoOtherTrigger(t *testing.T) {
	fx, e := genOrderEngine(t)
	const audit = `{"version": 1, "flows": [{"name": "Audit", "triggers": [{"kind": "event", "topic": "orders", "event": "order.placed"}],
  "steps": [{"name": "Note", "action": {"kind": "publish", "topic": "audit", "event": "noted"}, "irreversible": true}]}]}`
	if ds, err := e.LoadFlows("audit.json", []byte(audit)); err != nil {
		t.Fatal(err, ds)
	}
	publishRaw(t, fx.broker, "bad", "orders", "order.placed", `{"order_id": 42}`) // GenOrder's OrderID is a string
	publishRaw(t, fx.broker, "good", "orders", "order.placed", `{"order_id": "o-1"}`)
	good := EventRunID("Audit", "orders", "order.placed", "good")
	waitFor(t, "the good event's Audit run", func() bool { return runState(fx, good) == runtime.StateDone })
	waitFor(t, "the bad event handled", func() bool {
		dls, _ := e.DeadLetters("orders", "order.placed")
		return len(dls) == 1 && fx.broker.(*MemoryBroker).Stats().Held == 0
	})
	if _, ok := fx.st.Get(EventRunID("Audit", "orders", "order.placed", "bad")); ok {
		t.Fatal("the dead-lettered event started a run of Audit")
	}
}
