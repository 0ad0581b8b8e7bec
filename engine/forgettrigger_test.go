package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime/store"
)

// A flow redefined without one of its event triggers (PUT /flows) leaves
// no consumer behind on the in-process broker: the old trigger's consumer
// held every later message of its topic/event for good, until the broker
// was full and every publish, on any topic, failed (POST /events 502, a
// publish step retrying for ever). A redefinition that keeps the trigger
// keeps its consumer, and the messages held for it.
func TestRedefinedFlowForgetsItsOldTrigger(t *testing.T) {
	// Room for some 10 of the messages below (each counts its payload,
	// ID, names and BrokerMessageOverhead), not the 20 of the old topic.
	b := NewMemoryBrokerWith(MemoryBrokerOptions{MaxBytes: 4000})
	e, err := New(Options{Store: store.NewMemory(), Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Work", func(ctx context.Context, s *State) (string, error) { return "", nil })
	flow := func(topic, doc string) []byte {
		return fmt.Appendf(nil, `{"version": 1, "flows": [{"name": "A", "doc": %q,
  "triggers": [{"kind": "event", "topic": %q, "event": "e"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}]}`, doc, topic)
	}
	load := func(src []byte) {
		t.Helper()
		if ds, err := e.LoadFlows("a.json", src); err != nil {
			t.Fatal(err, ds)
		}
	}
	load(flow("old", "v1"))
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	p := json.RawMessage(`"` + strings.Repeat("x", 98) + `"`) // 100 bytes
	publish := func(topic string, n int) {
		t.Helper()
		for i := range n {
			if err := b.Publish(context.Background(), Message{Topic: topic, Event: "e", Payload: p}); err != nil {
				t.Fatalf("publish %d on %s: %v (%+v)", i, topic, err, b.Stats())
			}
		}
	}

	// Redefined with the same trigger: its consumer goes on.
	load(flow("old", "v2"))
	publish("old", 3)
	waitFor(t, "the trigger's events started", func() bool { return doneRuns(e.store, "A") == 3 })

	// Redefined on another topic: the old topic's messages are no longer
	// held, however many.
	load(flow("new", "v3"))
	publish("old", 20)
	if s := b.Stats(); s.Held != 0 {
		t.Fatalf("broker holds %+v for the trigger A no longer has", s)
	}
	publish("new", 1)
	waitFor(t, "the new trigger's event started", func() bool { return doneRuns(e.store, "A") == 4 })
}
