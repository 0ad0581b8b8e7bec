package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// POST /events for a topic/event no flow consumes is dropped, as the
// broker drops such a message: 404 saying so, counted in the broker's
// Dropped, nothing in the inbox. Kept there for a day, such events took
// -inbox-bytes from the events runs await, which were then refused (429).
// A flow defined later takes the events posted after its definition.
func TestEventNoFlowConsumesIsDropped(t *testing.T) {
	fx := newFixture(t)
	fx.inboxB = 3*InboxMessageOverhead + 450 // 3 events of some 130 bytes
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	pad := strings.Repeat("x", 60)
	for i := range 5 {
		status, out := c.do("POST", fmt.Sprintf("/events/junk/ev?id=j-%d", i), fmt.Sprintf(`{"pad": %q}`, pad))
		if status != 404 || !strings.Contains(mustString(t, out), "no flow starts on or awaits") {
			t.Fatalf("an event no flow consumes: %d %v, want 404 saying no flow consumes it", status, out)
		}
	}
	if d := e.Stats().Broker.Dropped; d != 5 {
		t.Errorf("broker dropped %d, want the 5 events counted", d)
	}
	if ms, _ := fx.st.(InboxStore).Messages(store.MessageFilter{}); len(ms) != 0 {
		t.Fatalf("the inbox records %d messages, want none of the dropped events", len(ms))
	}
	// The inbox's room is the awaited events': a run's payment comes in.
	ann, annCust := startSignup(t, e, "ann")
	if status, out := c.do("POST", "/events/payments/payment.succeeded?id=ann", fmt.Sprintf(`{"correlation_id": %q, "pad": %q}`, annCust, pad)); status != 202 || out["inbox"] != true {
		t.Fatalf("an awaited event after the junk: %d %v, want 202 in the inbox", status, out)
	}
	waitFor(t, "ann's run done", func() bool { return runState(fx, ann) == runtime.StateDone })

	// A flow that awaits junk/ev, defined now, makes its events consumed.
	const late = `{"version": 1, "flows": [{"name": "Late", "triggers": [{"kind": "event", "topic": "orders", "event": "late"}],
  "steps": [{"name": "W", "action": {"kind": "await", "topic": "junk", "event": "ev", "timeout": "1h"}}]}]}`
	if ds, err := e.LoadFlows("late.json", []byte(late)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	dropped := e.Stats().Broker.Dropped // and what ann's run published for nobody
	if status, out := c.do("POST", "/events/junk/ev?id=j-0", `{}`); status != 202 || out["inbox"] != true {
		t.Fatalf("an event a flow awaits since: %d %v, want 202 in the inbox", status, out)
	}
	if d := e.Stats().Broker.Dropped; d != dropped {
		t.Errorf("broker dropped %d, want still %d", d, dropped)
	}
}

// The engine's API says the same: ErrNoConsumer, nothing recorded.
func TestPublishEventNoConsumer(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	_, err := e.PublishEvent(context.Background(), Message{ID: "m", Topic: "nobody", Event: "listens", Payload: json.RawMessage(`1`)})
	if err == nil || !strings.Contains(err.Error(), "no flow") {
		t.Fatalf("PublishEvent: %v, want ErrNoConsumer", err)
	}
	if _, ok, _ := fx.st.(InboxStore).GetMessage(store.MessageKey{Topic: "nobody", Event: "listens", ID: "m"}); ok {
		t.Fatal("the inbox holds the dropped event")
	}
}
