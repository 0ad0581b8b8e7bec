package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// triggerAndAwaitDoc: flow T starts on t/e, and flow W, started on
// t/start, waits for t/e.
const triggerAndAwaitDoc = `{"version": 1, "flows": [
 {"name": "T", "triggers": [{"kind": "event", "topic": "t", "event": "e"}],
  "steps": [{"name": "Work", "action": {"kind": "publish", "topic": "out", "event": "worked"}, "irreversible": true}]},
 {"name": "W", "state": "WState", "triggers": [{"kind": "event", "topic": "t", "event": "start"}],
  "steps": [{"name": "Wait", "action": {"kind": "await", "topic": "t", "event": "e", "response": "Got", "timeout": "1h"}}]}]}`

// A message that is one flow's trigger and another's awaited event, and
// cannot start the first, is dead for the second too: the inbox
// dead-letters it before it can offer it to a waiting run, whichever of the
// trigger's consumer and the inbox's receives it first. Before, the two
// raced, and a waiting run could take the payload its message was then
// dead-lettered for. Each round: two W runs wait, a poison message and a
// good one follow on the broker (which delivers them in order to each
// consumer); the good one completes exactly one W run, and the poison one
// none.
func TestDeadLetterIsDeadForAwaits(t *testing.T) {
	broker := NewMemoryBroker()
	e := startJSONEngine(t, Options{Store: store.NewMemory(), Broker: broker}, triggerAndAwaitDoc)
	defer e.Close(context.Background())
	for round := range 10 {
		waiting := []string{}
		for i := range 2 {
			id := fmt.Sprintf("w-%d-%d", round, i)
			publishRaw(t, broker, id, "t", "start", `{}`)
			waiting = append(waiting, EventRunID("W", "t", "start", id))
			waitParked(t, e, waiting[i])
		}
		bad, good := fmt.Sprintf("bad-%d", round), fmt.Sprintf("good-%d", round)
		publishRaw(t, broker, bad, "t", "e", `not json`)
		publishRaw(t, broker, good, "t", "e", `{"n": 1}`)
		waitFor(t, "the good message's run of T", func() bool {
			st, err := e.Status(context.Background(), EventRunID("T", "t", "e", good))
			return err == nil && st.State == runtime.StateDone
		})
		waitFor(t, "a W run to take the good message", func() bool {
			for _, id := range waiting {
				if st, _ := e.Status(context.Background(), id); st.State == runtime.StateDone {
					return true
				}
			}
			return false
		})
		// The other run took nothing: the poison message came before the
		// good one to the inbox, so it was dead-lettered or taken by then.
		taken := 0
		for _, id := range waiting {
			st, err := e.Status(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != runtime.StateWaiting {
				taken++
			}
		}
		if taken != 1 {
			t.Fatalf("round %d: %d W runs took a message, want 1 (the good one): the dead letter was delivered", round, taken)
		}
		dls, err := e.DeadLetters("t", "e")
		if err != nil || len(dls) != round+1 || dls[round].ID != bad {
			t.Fatalf("round %d: dead letters %+v, %v", round, dls, err)
		}
		// The other run takes the next good message; the rounds stay apart.
		publishRaw(t, broker, good+"-2", "t", "e", `{"n": 1}`)
		for _, id := range waiting {
			waitFor(t, "run "+id+" to end", func() bool { st, _ := e.Status(context.Background(), id); return st.State.Terminal() })
			if st, _ := e.Status(context.Background(), id); st.State != runtime.StateDone || string(st.Snapshot) != `{"Got":{"n":1}}` {
				t.Fatalf("round %d: run %s ended %s with %s, want done with a good message", round, id, st.State, st.Snapshot)
			}
		}
	}
}
