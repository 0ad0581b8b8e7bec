package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A run that took an awaited event whose payload is not JSON, as runs did
// before the inbox dead-lettered such events and runs refused them: its
// history ends "Wait:waiting -> Wait:running" with that payload. An engine
// that resumes it runs the await again on the recorded payload, which the
// state cannot hold: the step fails, saying so, and the run ends failed,
// recorded. Before, the run's life ended with nothing recorded or logged,
// and the run stayed "running", after every restart.
func TestResumedAwaitOfPayloadNotJSONFails(t *testing.T) {
	const flows = `{"version": 1, "flows": [{"name": "W", "state": "WState",
  "triggers": [{"kind": "rpc", "endpoint": "w"}],
  "steps": [{"name": "Wait", "action": {"kind": "await", "topic": "t", "event": "e", "response": "Got", "timeout": "1h"},
    "on": [{"on": "ok", "target": "done"}]}]}]}`
	st := store.NewMemory()
	open := func() *Engine {
		e, err := New(Options{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.LoadFlows("w.json", []byte(flows)); err != nil {
			t.Fatal(err)
		}
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := open()
	id, err := e.StartRun(context.Background(), "W", json.RawMessage(`{}`), "w-1")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	h, err := st.LoadHistory(context.Background(), id)
	if err != nil || len(h) != 1 {
		t.Fatalf("history %v, %v; want the run waiting", h, err)
	}
	took := runtime.Event{RunID: id, Seq: 2, Time: h[0].Time, Flow: "W", Step: "Wait",
		From: "Wait:waiting", To: "Wait:running", State: h[0].State, Payload: json.RawMessage(`not json`)}
	if err := st.Emit(context.Background(), took); err != nil {
		t.Fatal(err)
	}

	e = open()
	defer e.Close(context.Background())
	if err := e.WaitResumed(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resumed run to end", func() bool {
		info, _ := st.Get(id)
		return info.State.Terminal()
	})
	s, err := e.Status(context.Background(), id)
	if err != nil || s.State != runtime.StateFailed || !strings.Contains(s.Err, "does not encode as JSON") {
		t.Fatalf("Status = %s %q, %v; want failed, saying the state does not encode", s.State, s.Err, err)
	}
}
