package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A message a broker delivers whose ID POST /events would refuse (another
// client of the broker published it: a NATS client's Nats-Msg-Id) is
// dead-lettered, with the reason, under a bounded ID: it starts no run of
// the flow it triggers, no waiting run takes it, and the inbox and the
// store keep no more of its ID than that. The consumers go on with the
// messages behind it.
func TestBrokerMessageIDWithinLimits(t *testing.T) {
	e, broker, st, waiting := waitingEngine(t, triggerAndAwaitDoc)

	bad := []struct{ id, why string }{
		{strings.Repeat("x", 60<<10), "message ID of 61440 bytes"},
		{"a\nb", `'\n' at byte 1`},
		{"a\x1b[2Jb", `'\x1b' at byte 1`},
		{"a b", `' ' at byte 1`},
	}
	for _, b := range bad {
		publishRaw(t, broker, b.id, "t", "e", `{"n": 0}`)
	}
	publishRaw(t, broker, "good", "t", "e", `{"n": 1}`)
	waitFor(t, "the good message's run of T", func() bool {
		st, err := e.Status(context.Background(), EventRunID("T", "t", "e", "good"))
		return err == nil && st.State == runtime.StateDone
	})
	waitFor(t, "the waiting run to take the good message", func() bool {
		st, _ := e.Status(context.Background(), waiting)
		return st.State.Terminal()
	})
	if s, _ := e.Status(context.Background(), waiting); s.State != runtime.StateDone || string(s.Snapshot) != `{"Got":{"n":1}}` {
		t.Fatalf("the waiting run ended %s with %s, want done with the good message", s.State, s.Snapshot)
	}
	waitFor(t, "the bad messages dead-lettered", func() bool {
		dls, _ := e.DeadLetters("t", "e")
		return len(dls) == len(bad)
	})
	dls, err := e.DeadLetters("t", "e")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		id := badIDPrefix + digest(b.id)
		found := false
		for _, dl := range dls {
			if dl.ID == id {
				found = true
				if !strings.Contains(dl.Reason, b.why) || !strings.Contains(dl.Reason, id) {
					t.Errorf("dead letter of ID %.20q: reason %q, want it to name %s and %s", b.id, dl.Reason, b.why, id)
				}
			}
		}
		if !found {
			t.Errorf("no dead letter of ID %.20q under %s: %+v", b.id, id, dls)
		}
		for _, runID := range []string{EventRunID("T", "t", "e", b.id), EventRunID("T", "t", "e", id)} {
			if _, ok := st.Get(runID); ok {
				t.Errorf("the message of ID %.20q started run %s", b.id, runID)
			}
		}
	}
	for _, m := range inboxOf(t, st, store.MessageFilter{}) {
		if len(m.ID) > MaxKeyLen || strings.ContainsAny(m.ID, "\n\x1b ") {
			t.Errorf("the inbox keeps a message of ID %.40q", m.ID)
		}
	}
}

// A step's publication whose ID (runtime.PublicationID: the step's
// idempotency key, the topic and the event) is outside the limits of
// message IDs, here for a step name beyond ASCII, is published under a
// digest of it: the receivers, which dead-letter a message of an ID out of
// those limits, take it.
func TestStepPublicationIDWithinLimits(t *testing.T) {
	const doc = `{"version": 1, "flows": [
 {"name": "P", "triggers": [{"kind": "event", "topic": "t", "event": "go"}],
  "steps": [{"name": "Bestätigen", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]},
 {"name": "W", "state": "WState", "triggers": [{"kind": "event", "topic": "t", "event": "start"}],
  "steps": [{"name": "Wait", "action": {"kind": "await", "topic": "t", "event": "e", "response": "Got", "timeout": "1h"}}]}]}`
	e, broker, _, waiting := waitingEngine(t, doc)
	publishRaw(t, broker, "p-1", "t", "go", `{}`)
	waitFor(t, "the waiting run to take P's publication", func() bool {
		st, _ := e.Status(context.Background(), waiting)
		return st.State.Terminal()
	})
	if st, _ := e.Status(context.Background(), waiting); st.State != runtime.StateDone {
		t.Fatalf("the waiting run ended %s", st.State)
	}
	if dls, err := e.DeadLetters("t", "e"); err != nil || len(dls) != 0 {
		t.Fatalf("dead letters %+v, %v", dls, err)
	}
}

// waitingEngine starts an engine of the flows of doc on a MemoryBroker and
// a memory store, closed when the test ends, and a run of its flow W,
// which waits for t/e: the engine, its broker and store, and the run's ID.
func waitingEngine(t *testing.T, doc string) (*Engine, *MemoryBroker, *store.Memory, string) {
	t.Helper()
	broker, st := NewMemoryBroker(), store.NewMemory()
	e := startJSONEngine(t, Options{Store: st, Broker: broker}, doc)
	t.Cleanup(func() { e.Close(context.Background()) })
	publishRaw(t, broker, "w-1", "t", "start", `{}`)
	waiting := EventRunID("W", "t", "start", "w-1")
	waitParked(t, e, waiting)
	return e, broker, st, waiting
}
