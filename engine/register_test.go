package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

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
	evRun := derivedRunID("Hello", "e", "hello-1")
	waitFor(t, "event-started run done", done(evRun))
	rs, err := e.Status(evRun)
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
