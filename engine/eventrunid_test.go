package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A message is its topic, event and ID (docs/engine.md#the-inbox), for
// the runs event triggers start as for the inbox: a flow with two event
// triggers starts a run for each of two messages that share an ID on
// their two events. The run ID hashed the flow and the ID alone, so the
// second message from the broker was taken for a redelivery of the first
// (acknowledged, no run), and POST /events of it answered 422 (or, with
// the first's payload, 202 "existing" and no run).
func TestEventRunIDIsByTopicAndEvent(t *testing.T) {
	const doc = `{"version": 1, "flows": [{
  "name": "Orders",
  "triggers": [{"kind": "event", "topic": "orders", "event": "created"}, {"kind": "event", "topic": "orders", "event": "cancelled"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]
}]}`
	e, st, b := ordersEngine(t, doc)
	defer closeEngine(t, e)

	// From the broker.
	publish(t, b, "o-1", "orders", "created", map[string]any{"n": 1})
	publish(t, b, "o-1", "orders", "cancelled", map[string]any{"n": 2})
	waitFor(t, "a run of each message", func() bool { return doneRuns(st, "Orders") == 2 })
	for _, ev := range []string{"created", "cancelled"} {
		if _, ok := st.Get(EventRunID("Orders", "orders", ev, "o-1")); !ok {
			t.Fatalf("no run of the message of %s", ev)
		}
	}

	// Through the door, with the same payload and with another.
	for _, p := range []string{`{"n":1}`, `{"n":2}`} {
		id := "o-" + p[5:6] + "-door"
		for _, ev := range []string{"created", "cancelled"} {
			out, err := e.PublishEvent(context.Background(), Message{ID: id, Topic: "orders", Event: ev, Payload: json.RawMessage(p)})
			if err != nil {
				t.Fatalf("POST %s %s: %v", ev, id, err)
			}
			if want := EventRunID("Orders", "orders", ev, id); len(out.Runs) != 1 || out.Runs[0].RunID != want || out.Runs[0].Existing {
				t.Fatalf("POST %s %s: runs %+v, want a new run %s", ev, id, out.Runs, want)
			}
		}
	}
	if n := doneRunsEventually(t, st, "Orders", 6); n != 6 {
		t.Fatalf("%d runs, want 6", n)
	}
}

func doneRunsEventually(t *testing.T, st Store, flow string, n int) int {
	t.Helper()
	waitFor(t, "the runs to end", func() bool { return doneRuns(st, flow) >= n })
	runs, _ := st.List(store.Filter{Flow: flow})
	return len(runs)
}

// A message whose run an engine started before run IDs took in the topic
// and event (its ID hashed the flow and the message ID alone), delivered
// or posted again after the upgrade, starts no second run.
func TestEventRunIDOfAnOlderEngine(t *testing.T) {
	const doc = `{"version": 1, "flows": [{
  "name": "Orders",
  "triggers": [{"kind": "event", "topic": "orders", "event": "created"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]
}]}`
	e, st, b := ordersEngine(t, doc)
	defer closeEngine(t, e)
	fe, err := e.lookup("Orders")
	if err != nil {
		t.Fatal(err)
	}
	old := derivedRunID("Orders", "e", "m-1") // what an older engine named it
	if _, err := e.startRun(context.Background(), fe, json.RawMessage(`{"n":1}`), old, false, admitAlways); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the older run", func() bool { return doneRuns(st, "Orders") == 1 })
	publish(t, b, "m-1", "orders", "created", map[string]any{"n": 1})
	publish(t, b, "m-2", "orders", "created", map[string]any{"n": 2})
	waitFor(t, "the run of m-2", func() bool { return doneRuns(st, "Orders") == 2 })
	waitFor(t, "both messages handled", func() bool { return b.Stats().Held == 0 })
	out, err := e.PublishEvent(context.Background(), Message{ID: "m-1", Topic: "orders", Event: "created", Payload: json.RawMessage(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Runs) != 1 || out.Runs[0].RunID != old || !out.Runs[0].Existing {
		t.Fatalf("POST of the older run's message: %+v, want its run %s, existing", out.Runs, old)
	}
	if runs, _ := st.List(store.Filter{Flow: "Orders"}); len(runs) != 2 {
		t.Fatalf("%d runs, want the older one and m-2's", len(runs))
	}
}

// ordersEngine starts an engine of the flows of doc, whose go steps "Work"
// do nothing, on a memory store and broker.
func ordersEngine(t *testing.T, doc string) (*Engine, *store.Memory, *MemoryBroker) {
	t.Helper()
	st := store.NewMemory()
	b := NewMemoryBroker()
	e, err := New(Options{Store: st, Broker: b, Clock: runtime.RealClock()})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Work", func(ctx context.Context, s *State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("orders.json", []byte(doc)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, st, b
}

// A step that publishes one topic and event twice (its publish action and
// a publish line) publishes two messages: both start their run of a flow
// they trigger. Both had the step's key for ID, and the second was taken
// for the first delivered again.
func TestStepPublishesOneEventTwice(t *testing.T) {
	const doc = `{"version": 1, "flows": [
 {"name": "P", "state": "PState", "triggers": [{"kind": "rpc", "endpoint": "P.Start"}],
  "steps": [{"name": "Pub", "action": {"kind": "publish", "topic": "t", "event": "e", "request": "A"},
    "publish": [{"topic": "t", "event": "e", "payload": "B"}], "irreversible": true}]},
 {"name": "Orders", "triggers": [{"kind": "event", "topic": "t", "event": "e"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}]}`
	e, st, _ := ordersEngine(t, doc)
	defer closeEngine(t, e)
	if _, err := e.StartRun(context.Background(), "P", json.RawMessage(`{"A": 1, "B": 2}`), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a run of each publication", func() bool { return doneRuns(st, "Orders") == 2 })
}
