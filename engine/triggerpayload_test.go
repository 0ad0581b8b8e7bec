package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime/store"
)

// workEngine starts an engine of the JSON flows of doc, whose Go steps
// are Work, which does nothing; it closes with the test.
func workEngine(t *testing.T, opts Options, doc string) *Engine {
	t.Helper()
	e := startJSONEngineWith(t, opts, doc, func(e *Engine) {
		e.Registry().Step("Work", func(ctx context.Context, s *State) (string, error) { return "", nil })
	})
	t.Cleanup(func() { closeEngine(t, e) })
	return e
}

// greetFlow is a JSON flow started by an event.
const greetFlow = `{"version": 1, "flows": [{
  "name": "Greet",
  "triggers": [{"kind": "event", "topic": "accounts", "event": "created"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]
}]}`

// A JSON flow's trigger event from the broker whose payload is not JSON is
// dead-lettered, as POST /events refuses it (400): not wrapped as the
// member "payload" of the run's state, which made some such payloads JSON
// ("1, \"Email\": \"x\"" became {"payload":1, "Email": "x"}) and started a
// run with the members they spelt. The next event starts its run.
func TestTriggerPayloadNotJSONDeadLettered(t *testing.T) {
	st := store.NewMemory()
	b := NewMemoryBroker()
	e := workEngine(t, Options{Store: st, Broker: b}, greetFlow)
	bad := `1, "Email": "mallory@example.com"`
	publishRaw(t, b, "bad-1", "accounts", "created", bad)
	waitFor(t, "the event dead-lettered or its run started", func() bool {
		dls, _ := e.DeadLetters("", "")
		_, started := st.Get(EventRunID("Greet", "accounts", "created", "bad-1"))
		return len(dls) == 1 || started
	})
	if info, ok := st.Get(EventRunID("Greet", "accounts", "created", "bad-1")); ok {
		t.Fatalf("a payload that is not JSON, %s, started run %+v", bad, info)
	}
	dls, _ := e.DeadLetters("", "")
	if len(dls) != 1 || dls[0].ID != "bad-1" || !strings.Contains(dls[0].Reason, "not valid JSON") {
		t.Fatalf("dead letters %+v, want bad-1's, saying the payload is not JSON", dls)
	}
	publishRaw(t, b, "good-1", "accounts", "created", `{"Email": "eve@example.com"}`)
	waitFor(t, "the next event's run", func() bool { return doneRuns(st, "Greet") == 1 })
}
