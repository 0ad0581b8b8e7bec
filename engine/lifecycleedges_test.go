package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// holdBroker holds Consume of one topic until release is closed, having
// closed entered; it then refuses it if refuse, else passes it on. The
// handlers of the consumers of watch report each delivery's result on
// delivered.
type holdBroker struct {
	Broker
	topic            string
	refuse           bool
	entered, release chan struct{}
	enter            sync.Once
	watch            string
	delivered        chan error
}

func newHoldBroker(b Broker, topic string, refuse bool) *holdBroker {
	return &holdBroker{Broker: b, topic: topic, refuse: refuse, entered: make(chan struct{}), release: make(chan struct{}), delivered: make(chan error, 64)}
}

func (b *holdBroker) Consume(ctx context.Context, name, topic, event string, h func(context.Context, Message) error) (func(), error) {
	if topic == b.topic {
		b.enter.Do(func() { close(b.entered) })
		<-b.release
		if b.refuse {
			return nil, fmt.Errorf("no consumer for %s", topic)
		}
	}
	if topic == b.watch {
		inner := h
		h = func(ctx context.Context, m Message) error {
			err := inner(ctx, m)
			select {
			case b.delivered <- err:
			default:
			}
			return err
		}
	}
	return b.Broker.Consume(ctx, name, topic, event, h)
}

// loadCounter counts the loads of one run's history.
type loadCounter struct {
	*store.Memory
	run   string
	loads atomic.Int64
}

func (s *loadCounter) Load(runID string) ([]runtime.Event, error) {
	if runID == s.run {
		s.loads.Add(1)
	}
	return s.Memory.Load(runID)
}

// A Start that fails part-way (the inbox loaded, flow A attached, flow B's
// trigger refused by the broker) leaves nothing running: A's consumers
// (its await's in the inbox, its trigger's) are stopped, no run of A is
// resumed, and the engine is closed (Close after it is a no-op).
func TestStartFailureLeavesNothingRunning(t *testing.T) {
	st := &loadCounter{Memory: store.NewMemory(), run: "a-1"}
	awaiting := `{"name": "A", "triggers": [{"kind": "event", "topic": "up", "event": "e"}],
	  "steps": [{"name": "W", "action": {"kind": "await", "topic": "aw", "event": "x", "timeout": "1h"}, "irreversible": true}]}`
	e1, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e1.LoadFlows("a.json", []byte(flowDoc(awaiting))); err != nil {
		t.Fatal(err, ds)
	}
	if err := e1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e1.StartRun(context.Background(), "A", nil, "a-1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a-1 waiting", func() bool {
		info, ok := st.Get("a-1")
		return ok && info.State == runtime.StateWaiting
	})
	closeEngine(t, e1)

	b := &countingBroker{Broker: failingBroker{NewMemoryBroker(), "down"}, live: map[string]int{}}
	e, err := New(Options{Store: st, Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("flows.json", []byte(flowDoc(awaiting, eventFlow("B", "down"), eventFlow("C", "up2")))); err != nil {
		t.Fatal(err, ds)
	}
	st.loads.Store(0)
	if err := e.Start(context.Background()); err == nil {
		t.Fatal("Start with a trigger the broker refuses: no error")
	}
	if err := e.WaitResumed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := b.consumers(); len(got) != 0 {
		t.Errorf("consumers running after a Start that failed: %v", got)
	}
	if n := st.loads.Load(); n != 0 {
		t.Errorf("run a-1 of flow A resumed (its history read %d times) by a Start that failed", n)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Errorf("Close after a Start that failed: %v", err)
	}
	if err := e.Start(context.Background()); err == nil {
		t.Error("a second Start after one that failed: no error")
	}
}

// A registration whose consumers are being started while Close runs
// (past its stop of the inbox) leaves none of them running: Close waits
// for it, and it is refused (ErrClosed), whether it was starting the
// inbox's consumer of an await or a trigger's consumer.
func TestCloseDuringRegistrationStopsItsConsumers(t *testing.T) {
	for _, topic := range []string{"payments", "orders"} {
		t.Run(topic, func(t *testing.T) {
			hold := newHoldBroker(NewMemoryBroker(), topic, false)
			b := &countingBroker{Broker: hold, live: map[string]int{}}
			e, err := New(Options{Store: store.NewMemory(), Broker: b})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			registered := make(chan error, 1)
			go func() { registered <- RegisterFlow(e, newGenOrder(e, &ledger{}, 0), OnEvent("orders", "placed")) }()
			<-hold.entered
			closed := make(chan error, 1)
			go func() { closed <- e.Close(context.Background()) }()
			waitFor(t, "Close past the inbox's stop", func() bool {
				e.in.mu.Lock()
				defer e.in.mu.Unlock()
				return e.in.stopped
			})
			close(hold.release)
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
			if got := b.consumers(); len(got) != 0 {
				t.Errorf("consumers running once Close returned: %v", got)
			}
			if err := <-registered; !errors.Is(err, ErrClosed) {
				t.Errorf("registration under way at Close: %v, want ErrClosed", err)
			}
			if got := b.consumers(); len(got) != 0 {
				t.Errorf("consumers running after the registration under way at Close: %v", got)
			}
		})
	}
}

// A flow whose registration is refused part-way was never reachable: while
// its registration starts the triggers (the broker holds the consumer of
// a trigger it will refuse), an rpc start of it finds no flow (404) and
// an event of its event trigger, posted (POST /events) or from the
// broker, starts no run; once it is refused, the
// store holds no run of it. So through PUT /flows (flow A, then B whose
// trigger is refused) and through Engine.Register.
func TestRefusedRegistrationStartsNoRun(t *testing.T) {
	a := `{"name": "A", "triggers": [{"kind": "rpc", "endpoint": "A.Start"}, {"kind": "event", "topic": "up", "event": "e"}],
	  "steps": [{"name": "S", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}`
	cases := []struct {
		name, flow, path string
		register         func(e *Engine, c apiClient) error
	}{
		{"PUT /flows", "A", "/rpc/A.Start", func(e *Engine, c apiClient) error {
			if status, out := c.do("PUT", "/flows", flowDoc(a, eventFlow("B", "down"))); status != 500 {
				return fmt.Errorf("PUT /flows: %d %v, want 500", status, out)
			}
			return nil
		}},
		{"Register", "Hello", "/rpc/Hello.Start", func(e *Engine, c apiClient) error {
			if err := Register(e, newGenHello(t, e, RPC("Hello.Start"), OnEvent("up", "e"), OnEvent("down", "e"))); err == nil {
				return errors.New("Register with a trigger the broker refuses: no error")
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := store.NewMemory()
			hold := newHoldBroker(NewMemoryBroker(), "down", true)
			hold.watch = "up"
			e, err := New(Options{Store: st, Broker: hold})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer closeEngine(t, e)
			c := apiClient{t, httptestServer(t, e)}
			refused := make(chan error, 1)
			go func() { refused <- tc.register(e, c) }()
			<-hold.entered
			if status, out := c.do("POST", tc.path, `{}`); status != http.StatusNotFound {
				t.Errorf("POST %s while its registration is under way: %d %v, want 404", tc.path, status, out)
			}
			// Through the engine's door, which starts the runs of the
			// flows the event triggers before it answers, and the broker.
			// (This broker wraps the in-process one: the engine cannot
			// tell that it has no consumers elsewhere, so it takes the
			// event, 202, as with NATS, rather than 404.)
			if status, out := c.do("POST", "/events/up/e?id=m-0", `{}`); status != http.StatusAccepted {
				t.Errorf("POST /events/up/e while %s's registration is under way: %d %v, want 202", tc.flow, status, out)
			}
			if err := e.broker.Publish(context.Background(), Message{ID: "m-1", Topic: "up", Event: "e", Payload: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			if err := <-hold.delivered; err == nil {
				t.Errorf("the event trigger of %s, whose registration is under way, took an event", tc.flow)
			}
			close(hold.release)
			if err := <-refused; err != nil {
				t.Fatal(err)
			}
			if runs, err := st.List(store.Filter{Flow: tc.flow}); err != nil || len(runs) != 0 {
				t.Errorf("runs of %s, whose registration was refused: %+v (%v)", tc.flow, runs, err)
			}
		})
	}
}
