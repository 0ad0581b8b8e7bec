package observe_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime/store"
)

// fullFlows: Placed is started by orders/placed; Notify publishes
// orders/placed, retried once.
const fullFlows = `{"version": 1, "flows": [
 {"name": "Placed", "triggers": [{"kind": "event", "topic": "orders", "event": "placed"}],
  "steps": [{"name": "Log", "action": {"kind": "go"}}]},
 {"name": "Notify", "retry": {"attempts": 2, "initial": "1ms"},
  "steps": [{"name": "Tell", "action": {"kind": "publish", "topic": "orders", "event": "placed"}, "irreversible": true}]}]}`

// TestBrokerFullCounted: each message the broker refuses because it is
// full counts in flowgen_broker_refused_total: an event posted to the
// engine (ErrBrokerFull to its caller) and each attempt of a publish step.
func TestBrokerFullCounted(t *testing.T) {
	tel, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := fullBrokerEngine(t, tel)
	if _, err := e.PublishEvent(context.Background(), engine.Message{Topic: "orders", Event: "placed", Payload: json.RawMessage(`{"n":1}`)}); !errors.Is(err, engine.ErrBrokerFull) {
		t.Fatalf("PublishEvent to a full broker: %v", err)
	}
	id, err := e.StartRun(context.Background(), "Notify", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, err := e.Status(context.Background(), id); err == nil && st.State.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not end", id)
		}
	}
	if n := sample(telMetrics(t, tel), "flowgen_broker_refused_total", "topic", "orders"); n != 3 {
		t.Errorf("flowgen_broker_refused_total{topic=orders} = %v, want 3 (the posted event, both attempts of Tell)", n)
	}
}

// fullBrokerEngine is a started engine with telemetry tel, the flows
// fullFlows, and a MemoryBroker that refuses every message from now on
// (engine.ErrBrokerFull) until the test ends.
func fullBrokerEngine(t *testing.T, tel *observe.Telemetry) *engine.Engine {
	t.Helper()
	// One byte: beyond one message held, every message is refused.
	broker := engine.NewMemoryBrokerWith(engine.MemoryBrokerOptions{MaxBytes: 1})
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Broker: broker, Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Placed.Log", func(context.Context, *engine.State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("full.json", []byte(fullFlows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	startEngine(t, e)
	// A consumer that never acknowledges holds the first message: the
	// broker is full from then on.
	stuck := make(chan struct{})
	stop, err := broker.Consume(context.Background(), "stuck", "orders", "placed", func(ctx context.Context, _ engine.Message) error {
		select {
		case <-stuck:
		case <-ctx.Done():
		}
		return errors.New("not taken")
	})
	if err != nil {
		t.Fatal(err)
	}
	// Released before it stops: a consumer's stop waits for its handler
	// (engine.Broker).
	t.Cleanup(func() { close(stuck); stop() })
	if err := broker.Publish(context.Background(), engine.Message{Topic: "orders", Event: "placed", Payload: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	return e
}
