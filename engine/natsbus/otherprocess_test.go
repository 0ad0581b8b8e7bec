package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/runtime/store"
)

// With a shared broker, an engine's own flows are not all the consumers:
// an event posted to an engine none of whose flows starts on or awaits it
// is published all the same (202), and the engine whose flow has the
// trigger starts its run. Only the in-process broker, whose consumers are
// all in the process, drops such an event (engine.ErrNoConsumer, 404).
func TestPublishEventForAnotherEnginesFlow(t *testing.T) {
	s := startServer(t, t.TempDir())
	svc := &customers{created: map[string]string{}, verify: make(chan string, 100)}
	hs := httptest.NewServer(svc)
	defer hs.Close()
	a := startEngine(t, s, store.NewMemory(), "a", httpcall.New(httpcall.Static{"customers": hs.URL}), nil)
	defer stopEngine(t, a)
	door, err := engine.New(engine.Options{Store: store.NewMemory(), Broker: connect(t, s), ID: "door"})
	if err != nil {
		t.Fatal(err)
	}
	if err := door.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopEngine(t, node{e: door})
	_, err = door.PublishEvent(context.Background(), engine.Message{ID: "m1", Topic: "accounts", Event: "signup.requested",
		Payload: json.RawMessage(`{"Customer": {"Email": "x"}}`)})
	if err != nil {
		t.Fatalf("PublishEvent on an engine without the flow: %v, want it published", err)
	}
	waitFor(t, "the run on the engine with the trigger", func() bool {
		r, _ := a.e.Runs(context.Background(), store.Filter{Flow: "Signup"})
		return len(r) == 1
	})
	mem, err := engine.New(engine.Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.PublishEvent(context.Background(), engine.Message{Topic: "accounts", Event: "signup.requested"}); !errors.Is(err, engine.ErrNoConsumer) {
		t.Errorf("PublishEvent with the in-process broker and no flow: %v, want ErrNoConsumer", err)
	}
}
