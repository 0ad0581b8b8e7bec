package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A dead letter is dead for every consumer of its topic and event: an
// awaited event from the broker larger alone than the inbox may hold,
// which the inbox dead-letters (it would wait for room forever), starts no
// run of a flow whose event trigger takes it too, as POST /events refuses
// it (413) for every flow before anything changes. Before, the trigger's
// consumer started its run from the event GET /deadletters listed as dead.
func TestDeadLetterTooLargeStartsNoTrigger(t *testing.T) {
	fx := newFixture(t)
	fx.inboxB = 4 * (InboxMessageOverhead + 120)
	e := fx.start()
	defer fx.stop()
	const tally = `{"version": 1, "flows": [{"name": "Tally", "triggers": [{"kind": "event", "topic": "payments", "event": "payment.succeeded"}],
  "steps": [{"name": "Note", "action": {"kind": "publish", "topic": "audit", "event": "noted"}, "irreversible": true}]}]}`
	if ds, err := e.LoadFlows("tally.json", []byte(tally)); err != nil {
		t.Fatal(err, ds)
	}
	startSignup(t, e, "ann") // a run that awaits payments
	big := fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", int(fx.inboxB)))
	publishRaw(t, fx.broker, "big", "payments", "payment.succeeded", big)
	publishRaw(t, fx.broker, "small", "payments", "payment.succeeded", `{"pad":"x"}`)
	waitFor(t, "the small event's Tally run", func() bool {
		_, ok := fx.st.Get(EventRunID("Tally", "payments", "payment.succeeded", "small"))
		return ok
	})
	waitFor(t, "the big event handled", func() bool {
		dls, _ := e.DeadLetters("payments", "payment.succeeded")
		return len(dls) == 1 && fx.broker.(*MemoryBroker).Stats().Held == 0
	})
	dls, _ := e.DeadLetters("payments", "payment.succeeded")
	if dls[0].ID != "big" || !strings.Contains(dls[0].Reason, "more than all it may hold") {
		t.Fatalf("dead letters %+v, want the event larger than the inbox", dls)
	}
	if _, ok := fx.st.Get(EventRunID("Tally", "payments", "payment.succeeded", "big")); ok {
		t.Fatal("the dead-lettered event started a run of Tally")
	}
	// POST /events says the same of it: 413, no run.
	if _, err := e.PublishEvent(t.Context(), Message{ID: "big-door", Topic: "payments", Event: "payment.succeeded", Payload: json.RawMessage(big)}); statusOf(err) != 413 {
		t.Fatalf("POST /events of it: %v", err)
	}
}
