package engine

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

type helloState struct {
	Name    string `json:"name"`
	Greeted bool   `json:"greeted"`
}

// genHello is shaped like flowgen's generated code for
//
//	flow Hello {
//	    state helloState
//	    trigger rpc "Hello.Start"
//	    trigger event greetings "hello.requested"
//	    step Greet { irreversible }
//	}
//
// a typed wrapper with Runtime() and Triggers().
type genHello struct {
	flow     *runtime.Flow[helloState]
	triggers []runtime.Trigger
}

func (f *genHello) Runtime() *runtime.Flow[helloState] { return f.flow }
func (f *genHello) Triggers() []runtime.Trigger        { return slices.Clone(f.triggers) }

func newGenHello(t *testing.T, e *Engine, triggers ...runtime.Trigger) *genHello {
	t.Helper()
	f := runtime.New[helloState]("Hello", e.RuntimeOptions()...)
	greet := runtime.NewStep("Greet", func(_ context.Context, s *helloState) (runtime.Outcome, error) {
		s.Greeted = true
		return runtime.OutcomeOK, nil
	}, runtime.WithIrreversible[helloState]())
	if err := f.Register(greet); err != nil {
		t.Fatal(err)
	}
	return &genHello{flow: f, triggers: triggers}
}

var helloTriggers = []runtime.Trigger{
	{Kind: runtime.TriggerRPC, Endpoint: "Hello.Start"},
	{Kind: runtime.TriggerEvent, Topic: "greetings", Event: "hello.requested"},
}

func registeredTriggers(e *Engine, flow string) []runtime.Trigger {
	for _, fi := range e.Flows() {
		if fi.Name == flow {
			return fi.Triggers
		}
	}
	return nil
}

// Register with no triggers takes a generated flow's own (its Triggers
// method): the rpc trigger starts runs over HTTP and the event trigger
// starts a run per message.
func TestRegisterTakesGeneratedTriggers(t *testing.T) {
	st := store.NewMemory()
	broker := NewMemoryBroker()
	e, err := New(Options{Store: st, Broker: broker})
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(e, newGenHello(t, e, helloTriggers...)); err != nil {
		t.Fatal(err)
	}
	want := []runtime.Trigger{RPC("Hello.Start"), OnEvent("greetings", "hello.requested")}
	if got := registeredTriggers(e, "Hello"); !slices.Equal(got, want) {
		t.Fatalf("triggers = %v, want %v", got, want)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)

	done := func(id string) func() bool {
		return func() bool {
			info, ok := st.Get(id)
			return ok && info.State == runtime.StateDone
		}
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	status, out := c.do("POST", "/rpc/Hello.Start", `{"name": "ada"}`)
	if status != 201 {
		t.Fatalf("POST /rpc/Hello.Start: %d %v", status, out)
	}
	rpcRun, _ := out["run_id"].(string)
	waitFor(t, "rpc-started run done", done(rpcRun))

	publish(t, broker, "hello-1", "greetings", "hello.requested", helloState{Name: "bob"})
	evRun := EventRunID("Hello", "greetings", "hello.requested", "hello-1")
	waitFor(t, "event-started run done", done(evRun))
	rs, err := e.Status(context.Background(), evRun)
	if err != nil || !strings.Contains(string(rs.Snapshot), `"name":"bob"`) || !strings.Contains(string(rs.Snapshot), `"greeted":true`) {
		t.Fatalf("event run status = %s, %v", rs.Snapshot, err)
	}
}

// Triggers given to Register replace the flow's own; a flow's own trigger
// that is invalid fails the registration, naming the flow.
func TestRegisterTriggersOverrideAndValidate(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(e, newGenHello(t, e, helloTriggers...), RPC("Hi.Start")); err != nil {
		t.Fatal(err)
	}
	if got, want := registeredTriggers(e, "Hello"), []runtime.Trigger{RPC("Hi.Start")}; !slices.Equal(got, want) {
		t.Fatalf("triggers = %v, want %v", got, want)
	}

	e2, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	bad := newGenHello(t, e2, runtime.Trigger{Kind: runtime.TriggerSchedule, Schedule: "every tuesday"})
	if err := Register(e2, bad); err == nil || !strings.Contains(err.Error(), `flow "Hello"`) {
		t.Fatalf("Register with a bad schedule = %v, want an error naming the flow", err)
	}
	if len(e2.Flows()) != 0 {
		t.Fatalf("a rejected flow is registered: %v", e2.Flows())
	}
}

// There is one trigger type: the engine's helpers, a generated flow's
// Triggers() and a JSON flow's triggers (dsl.Trigger embeds it) are all
// runtime.Trigger values, registered as they are, without conversion.
func TestOneTriggerType(t *testing.T) {
	want := []runtime.Trigger{
		{Kind: runtime.TriggerRPC, Endpoint: "A.Start"},
		{Kind: runtime.TriggerEvent, Topic: "t", Event: "e"},
		{Kind: runtime.TriggerSchedule, Schedule: "@every 1h"},
	}
	if got := []runtime.Trigger{RPC("A.Start"), OnEvent("t", "e"), Schedule("@every 1h")}; !slices.Equal(got, want) {
		t.Fatalf("helpers = %v, want %v", got, want)
	}
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	src := `{"version": 1, "flows": [{"name": "A", "triggers": [
		{"kind": "rpc", "endpoint": "A.Start"},
		{"kind": "event", "topic": "t", "event": "e"},
		{"kind": "schedule", "schedule": "@every 1h"}],
		"steps": [{"name": "P", "action": {"kind": "publish", "topic": "x", "event": "y"}}]}]}`
	if ds, err := e.LoadFlows("a.json", []byte(src)); err != nil {
		t.Fatalf("LoadFlows: %v %v", err, ds)
	}
	if got := registeredTriggers(e, "A"); !slices.Equal(got, want) {
		t.Fatalf("JSON flow's triggers = %v, want %v", got, want)
	}
}

// Register refuses a generated flow whose rpc trigger another flow has,
// saying which flow wants which endpoint and whose it is, with a 409's
// error (a conflict with what the engine holds), and registers nothing.
func TestRegisterRPCTaken(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("a.json", []byte(flowDoc(rpcFlow("A", "Hello.Start")))); err != nil {
		t.Fatal(err, ds)
	}
	err = Register(e, newGenHello(t, e, helloTriggers...))
	const want = `engine: definition conflicts with what the engine holds: flow "Hello" cannot take rpc endpoint "Hello.Start": it starts flow "A"`
	if err == nil || err.Error() != want || statusOf(err) != http.StatusConflict {
		t.Fatalf("Register: %v, want %q (409)", err, want)
	}
	if got := flowNames(e); !slices.Equal(got, []string{"A"}) {
		t.Fatalf("flows %v, want [A]", got)
	}
}

// A registration from Go on a started engine whose triggers cannot start
// (the broker refuses a consumer) returns the error and changes nothing:
// the flow is not registered, its rpc endpoint not routed, and the same
// name can be registered again.
func TestRegisterFailureUndoes(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory(), Broker: failingBroker{NewMemoryBroker(), "down"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	down := runtime.Trigger{Kind: runtime.TriggerEvent, Topic: "down", Event: "e"}
	if err := Register(e, newGenHello(t, e, helloTriggers[0], down)); err == nil {
		t.Fatal("Register with a trigger the broker refuses: no error")
	}
	if fl := e.Flows(); len(fl) != 0 {
		t.Fatalf("after a registration that failed the engine lists %+v", fl)
	}
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	res, err := http.Post(srv.URL+"/rpc/Hello.Start", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /rpc/Hello.Start after a registration that failed: %d, want 404", res.StatusCode)
	}
	if err := Register(e, newGenHello(t, e, helloTriggers[0])); err != nil {
		t.Fatalf("registering Hello again: %v", err)
	}
}

// countingBroker counts the consumers it has started and not stopped, by
// topic.
type countingBroker struct {
	Broker
	mu   sync.Mutex
	live map[string]int
}

func (b *countingBroker) Consume(ctx context.Context, name, topic, event string, h func(context.Context, Message) error) (func(), error) {
	stop, err := b.Broker.Consume(ctx, name, topic, event, h)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.live[topic]++
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			stop()
			b.mu.Lock()
			if b.live[topic]--; b.live[topic] == 0 {
				delete(b.live, topic)
			}
			b.mu.Unlock()
		})
	}, nil
}

func (b *countingBroker) consumers() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.live)
}

// A registration refused part-way, after the inbox's consumers of its
// awaits (or of a flow before it in the same PUT /flows) started, stops
// them: the engine is left as before, consuming nothing it did not.
func TestRegisterFailureStopsAwaitConsumers(t *testing.T) {
	b := &countingBroker{Broker: failingBroker{NewMemoryBroker(), "down"}, live: map[string]int{}}
	e, err := New(Options{Store: store.NewMemory(), Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	before := b.consumers()

	// From Go: the await's consumer starts, then the trigger is refused.
	if err := RegisterFlow(e, newGenOrder(e, &ledger{}, 0), OnEvent("down", "e")); err == nil {
		t.Fatal("RegisterFlow with a trigger the broker refuses: no error")
	}
	if got := b.consumers(); !maps.Equal(got, before) {
		t.Errorf("consumers after a refused RegisterFlow %v, want %v", got, before)
	}
	if e.in.consumes("payments", "order.paid") {
		t.Errorf("the inbox still consumes payments order.paid after a refused RegisterFlow")
	}

	// Through PUT /flows: flow A (its await's consumer and its trigger's)
	// attaches, then B's trigger is refused.
	c := apiClient{t, httptestServer(t, e)}
	awaiting := `{"name": "A", "triggers": [{"kind": "event", "topic": "up", "event": "e"}],
	  "steps": [{"name": "W", "action": {"kind": "await", "topic": "aw", "event": "x", "timeout": "1h"}, "irreversible": true}]}`
	if status, out := c.do("PUT", "/flows", flowDoc(awaiting, eventFlow("B", "down"))); status != 500 {
		t.Fatalf("PUT with a trigger that cannot start: %d %v, want 500", status, out)
	}
	if got := b.consumers(); !maps.Equal(got, before) {
		t.Errorf("consumers after a refused PUT /flows %v, want %v", got, before)
	}
	if e.in.consumes("aw", "x") {
		t.Errorf("the inbox still consumes aw x after a refused PUT /flows")
	}

	// Accepted afterwards, they consume again.
	if status, out := c.do("PUT", "/flows", flowDoc(awaiting)); status != 200 {
		t.Fatalf("PUT A: %d %v", status, out)
	}
	if got := b.consumers(); got["aw"] != 1 || got["up"] == 0 {
		t.Errorf("consumers after PUT A %v, want aw (the await) once and up (the trigger)", got)
	}
}

// slowRefusal refuses consumers of one topic, after waiting (at most a
// second) for until to hold: what a registration did before the refusal
// has had time to act.
type slowRefusal struct {
	Broker
	topic string
	until func() bool
}

func (b slowRefusal) Consume(ctx context.Context, name, topic, event string, h func(context.Context, Message) error) (func(), error) {
	if topic == b.topic {
		for deadline := time.Now().Add(time.Second); !b.until() && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		return nil, fmt.Errorf("no consumer for %s", topic)
	}
	return b.Broker.Consume(ctx, name, topic, event, h)
}

// A PUT /flows refused part-way resumes no run of a flow it defined: the
// stored unfinished runs of flow A, defined anew in a document whose
// flow B cannot start, stay as they were until A is defined.
func TestLoadFailureResumesNothing(t *testing.T) {
	st := store.NewMemory()
	awaiting := `{"name": "A", "triggers": [{"kind": "rpc", "endpoint": "A.Start"}],
	  "steps": [{"name": "W", "action": {"kind": "await", "topic": "aw", "event": "x", "timeout": "1h"}, "irreversible": true}]}`
	e1, err := New(Options{Store: st, Broker: NewMemoryBroker()})
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptestServer(t, e1)}
	if status, out := c.do("PUT", "/flows", flowDoc(awaiting)); status != 200 {
		t.Fatalf("PUT A: %d %v", status, out)
	}
	if status, out := c.do("POST", "/flows/A/runs?run_id=a-1", `{}`); status != 201 {
		t.Fatalf("starting a run of A: %d %v", status, out)
	}
	waitFor(t, "a-1 waiting", func() bool {
		info, ok := st.Get("a-1")
		return ok && info.State == runtime.StateWaiting
	})
	if err := e1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	var e2 *Engine
	b := slowRefusal{Broker: NewMemoryBroker(), topic: "down", until: func() bool { return e2.liveOf("a-1") != nil }}
	if e2, err = New(Options{Store: st, Broker: b}); err != nil {
		t.Fatal(err)
	}
	if err := e2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e2.Close(context.Background())
	c = apiClient{t, httptestServer(t, e2)}
	if status, out := c.do("PUT", "/flows", flowDoc(awaiting, eventFlow("B", "down"))); status != 500 {
		t.Fatalf("PUT with a trigger that cannot start: %d %v, want 500", status, out)
	}
	if err := e2.WaitResumed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e2.liveOf("a-1") != nil {
		t.Fatalf("run a-1 of flow A resumed by a PUT /flows that was refused")
	}
	if status, out := c.do("PUT", "/flows", flowDoc(awaiting)); status != 200 {
		t.Fatalf("PUT A: %d %v", status, out)
	}
	waitFor(t, "a-1 resumed", func() bool { return e2.liveOf("a-1") != nil })
}
