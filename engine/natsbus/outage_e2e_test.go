package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/natstest"
	"github.com/flowgen/flowgen/runtime"
)

// The NATS server goes away while runs wait for events and comes back (the
// same store): a publish meanwhile fails, and once it is back the events
// another client publishes reach the waiting runs and start the trigger's
// runs, on the consumers the engine had: its pull loops pull again.
func TestRunsGoOnAfterNATSRestart(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	nc, err := nats.Connect(srv.URL, ConnOptions(nil)...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b, err := New(context.Background(), nc, Options{Redeliver: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e, st := trigWaitEngine(t, b, "o")
	const n = 5
	for i := range n {
		if _, err := e.StartRun(context.Background(), "Wait", json.RawMessage(fmt.Sprintf(`{"Key":"k%d"}`, i)), fmt.Sprint("w", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "runs parked", func() bool { return e.Parked() == n })

	srv.Stop()
	if err := b.Publish(context.Background(), engine.Message{ID: "down", Topic: "t", Event: "go", Payload: json.RawMessage(`{"correlation_id":"k0"}`)}); err == nil {
		t.Fatal("a publish with NATS down succeeded")
	}
	srv.Start()

	other, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ob, err := New(context.Background(), other, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for _, m := range []engine.Message{
			{ID: fmt.Sprint("go", i), Topic: "t", Event: "go", Payload: json.RawMessage(fmt.Sprintf(`{"correlation_id":"k%d"}`, i))},
			{ID: fmt.Sprint("start", i), Topic: "t", Event: "start", Payload: json.RawMessage(`{}`)},
		} {
			if err := ob.Publish(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "the waiting runs done and the triggered runs started", func() bool {
		for i := range n {
			if info, ok := st.Get(fmt.Sprint("w", i)); !ok || info.State != runtime.StateDone {
				return false
			}
			if info, ok := st.Get(engine.EventRunID("Trig", "t", "start", fmt.Sprint("start", i))); !ok || info.State != runtime.StateDone {
				return false
			}
		}
		return true
	})
}
