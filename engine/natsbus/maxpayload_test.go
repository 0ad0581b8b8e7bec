package natsbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// pubFlow publishes its state's Blob on t/big, three attempts at most.
const pubFlow = `{"version": 1, "flows": [
 {"name": "Pub", "state": "PubState", "triggers": [{"kind": "rpc", "endpoint": "Pub.Start"}],
  "retry": {"attempts": 3, "initial": "1ms", "max": "2ms"},
  "steps": [{"name": "Send", "action": {"kind": "publish", "topic": "t", "event": "big", "request": "Blob"}, "irreversible": true}]}
]}`

// An event larger than the NATS server's max_payload can never be
// published: PublishEvent fails with engine.ErrTooLarge (POST /events
// answers 413, as for an event larger than the inbox could hold), and a
// publish step fails at once, permanently, rather than spend its retries
// on it. Before, the error was a broker's like any (502, which a client
// retries in vain; every attempt of the step).
func TestEventLargerThanMaxPayload(t *testing.T) {
	s := startServer(t, t.TempDir())
	b := connect(t, s)
	e, st := trigWaitEngine(t, b, "m")
	if ds, err := e.LoadFlows("pub.json", []byte(pubFlow)); err != nil {
		t.Fatal(err, ds)
	}
	// Under the API's body limit (1 MiB, as max_payload), over
	// max_payload with the message's headers.
	blob, _ := json.Marshal(strings.Repeat("x", int(b.js.Conn().MaxPayload())-16))

	_, err := e.PublishEvent(context.Background(), engine.Message{ID: "big", Topic: "t", Event: "go", Payload: blob})
	if !errors.Is(err, engine.ErrTooLarge) || !strings.Contains(err.Error(), "max_payload") || runtime.ErrorClass(err) != "message_too_large" {
		t.Fatalf("PublishEvent of %d bytes: %v (class %q); want ErrTooLarge naming max_payload, message_too_large", len(blob), err, runtime.ErrorClass(err))
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/events/t/go?id=big", bytes.NewReader(blob))
	req.Header.Set("Content-Type", "application/json")
	e.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /events of %d bytes: %d %s; want 413", len(blob), rec.Code, rec.Body)
	}
	if ms, _ := st.Messages(store.MessageFilter{}); len(ms) != 0 {
		t.Errorf("the event refused is in the inbox: %d messages", len(ms))
	}

	id, err := e.StartRun(context.Background(), "Pub", json.RawMessage(`{"Blob": `+string(blob)+`}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to end", func() bool {
		info, ok := st.Get(id)
		return ok && info.State.Terminal()
	})
	h, err := st.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for _, ev := range h {
		if ev.Step == "Send" && ev.Error != "" {
			attempts++
		}
	}
	if info, _ := st.Get(id); info.State != runtime.StateFailed || attempts != 1 {
		t.Fatalf("run %s with %d failed attempts of Send; want failed after one", info.State, attempts)
	}
}
