package engine

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const threeSteps = `{"version": 1, "flows": [{
  "name": "Three",
  "triggers": [{"kind": "rpc", "endpoint": "Three.Start"}, {"kind": "event", "topic": "three", "event": "go"}],
  "steps": [
    {"name": "A", "action": {"kind": "go"}, "irreversible": true},
    {"name": "B", "action": {"kind": "go"}, "irreversible": true},
    {"name": "C", "action": {"kind": "go"}, "irreversible": true}
  ]
}]}`

// Close stops a run at the next step boundary: the step in progress ends
// and is recorded, the next one does not start; the next Start resumes the
// run from there, and no step runs twice.
func TestCloseStopsAtStepBoundary(t *testing.T) {
	st := store.NewMemory()
	ran := &ledger{}
	entered := make(chan struct{})
	release := make(chan struct{})
	// Close asks its runs to stop at their next boundary, then stops the
	// consumers (the flow's event trigger): A is let go once one is
	// stopping. Let go as soon as Close had begun (draining), A could end
	// before the runs were asked, and B start, as it may for a step that
	// ends as Close begins (1 run in about 200 under -race).
	consumers := &stopSignal{Broker: NewMemoryBroker(), stopping: make(chan struct{})}
	build := func(block bool) *Engine {
		e, err := New(Options{Store: st, Broker: consumers})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"A", "B", "C"} {
			e.Registry().Step(name, func(ctx context.Context, s *State) (string, error) {
				ran.add(runtime.IdempotencyKey(ctx))
				if block && name == "A" {
					close(entered)
					<-release
				}
				return "", nil
			})
		}
		if ds, err := e.LoadFlows("three.json", []byte(threeSteps)); err != nil {
			t.Fatal(err, ds)
		}
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := build(true)
	id, err := e.StartRun(context.Background(), "Three", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	closed := make(chan error)
	go func() { closed <- e.Close(context.Background()) }()
	<-consumers.stopping
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	info, _ := st.Get(id)
	if info.Machine != "B:running" {
		t.Fatalf("after close the run is at %s, want B:running", info.Machine)
	}
	if ran.count(id+"/B") != 0 {
		t.Fatal("B started while closing")
	}
	e = build(false)
	defer closeEngine(t, e)
	waitFor(t, "run done", func() bool { i, _ := st.Get(id); return i.State == runtime.StateDone })
	for _, step := range []string{"A", "B", "C"} {
		if n := ran.count(id + "/" + step); n != 1 {
			t.Errorf("step %s ran %d times", step, n)
		}
	}
}

// stopSignal is a Broker that closes stopping as the first of its
// consumers begins to stop.
type stopSignal struct {
	Broker
	once     sync.Once
	stopping chan struct{}
}

func (b *stopSignal) Consume(ctx context.Context, name, topic, event string, h func(ctx context.Context, m Message) error) (func(), error) {
	stop, err := b.Broker.Consume(ctx, name, topic, event, h)
	return func() {
		b.once.Do(func() { close(b.stopping) })
		stop()
	}, err
}

type typedState struct {
	OrderID string `json:"order_id"`
	Paid    struct {
		Amount int `json:"amount"`
	} `json:"paid"`
	Shipped bool `json:"shipped"`
}

// A flow built with the runtime API (as generated code is) runs on the
// engine: started over the API with JSON state, its await served by the
// engine's inbox.
func TestRegisterRuntimeFlow(t *testing.T) {
	st := store.NewMemory()
	broker := NewMemoryBroker()
	e, err := New(Options{Store: st, Broker: broker})
	if err != nil {
		t.Fatal(err)
	}
	f := runtime.New[typedState]("Order", e.RuntimeOptions()...)
	if err := f.Register(
		runtime.NewAwait[typedState]("payments", "paid", func(s *typedState) any { return &s.Paid },
			func(s *typedState) string { return s.OrderID }, time.Hour, runtime.WithID[typedState]("AwaitPaid")),
		runtime.NewStep("Ship", func(ctx context.Context, s *typedState) (runtime.Outcome, error) {
			s.Shipped = true
			return "", nil
		}),
	); err != nil {
		t.Fatal(err)
	}
	if err := RegisterFlow(e, f, RPC("Order.Start"), OnEvent("orders", "placed")); err != nil {
		t.Fatal(err)
	}
	if err := RegisterFlow(e, f); err == nil {
		t.Fatal("registered the same flow twice")
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	id, err := e.StartRun(context.Background(), "Order", json.RawMessage(`{"order_id": "o-1"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, broker, "x", "payments", "paid", map[string]any{"correlation_id": "o-2", "amount": 1})
	publish(t, broker, "y", "payments", "paid", map[string]any{"correlation_id": "o-1", "amount": 5})
	publish(t, broker, "y", "payments", "paid", map[string]any{"correlation_id": "o-1", "amount": 5})
	waitFor(t, "run done", func() bool { i, _ := st.Get(id); return i.State == runtime.StateDone })
	s, _ := e.Status(context.Background(), id)
	var got typedState
	if err := json.Unmarshal(s.Snapshot, &got); err != nil || got.Paid.Amount != 5 || !got.Shipped {
		t.Fatalf("state %s (%v)", s.Snapshot, err)
	}
	// The event trigger decodes the payload into the state type; the run
	// takes the other order's payment, kept in the inbox.
	publish(t, broker, "order-2", "orders", "placed", map[string]any{"order_id": "o-2"})
	id2 := EventRunID("Order", "orders", "placed", "order-2")
	waitFor(t, "second run done", func() bool { i, _ := st.Get(id2); return i.State == runtime.StateDone })
	if _, err := e.StartRun(context.Background(), "Order", json.RawMessage(`{"order_id": 5}`), ""); err == nil {
		t.Fatal("a state that does not decode started a run")
	}
}
