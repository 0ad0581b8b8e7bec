package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/brokertest"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// startServer runs a real NATS server with JetStream in-process on
// loopback, its data in dir.
func startServer(t testing.TB, dir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func connect(t testing.TB, s *server.Server) *Broker {
	t.Helper()
	return connectWith(t, s, Options{Redeliver: 10 * time.Millisecond})
}

func connectWith(t testing.TB, s *server.Server, opts Options) *Broker {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b, err := New(context.Background(), nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ensureConsumer creates name's durable consumer of topic/event, as its
// first Consume would: one created later starts at the messages published
// from then on, and a message no consumer's subject matches is not kept.
func ensureConsumer(t testing.TB, b *Broker, name, topic, event string) {
	t.Helper()
	if _, _, err := b.consumer(context.Background(), name, topic, event, 0); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSubjectEscaping(t *testing.T) {
	b := &Broker{opts: Options{Prefix: "flowgen"}}
	cases := map[[2]string]string{
		{"payments", "payment.succeeded"}: "flowgen.payments.payment%2Esucceeded",
		{"a.b", "c"}:                      "flowgen.a%2Eb.c",
		{"a", "b.c"}:                      "flowgen.a.b%2Ec",
		{"x y", "*>"}:                     "flowgen.x%20y.%2A%3E",
		{"", "e"}:                         "flowgen.%.e",
	}
	for in, want := range cases {
		if got := b.Subject(in[0], in[1]); got != want {
			t.Errorf("Subject(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// The same message ID published twice is stored once; a consumer that
// fails a delivery gets it again.
func TestPublishDedupAndRedelivery(t *testing.T) {
	s := startServer(t, t.TempDir())
	b := connect(t, s)
	ctx := context.Background()
	ensureConsumer(t, b, "c1", "t", "e.v")
	for i := 0; i < 2; i++ {
		if err := b.Publish(ctx, engine.Message{ID: "m1", Topic: "t", Event: "e.v", Payload: json.RawMessage(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Publish(ctx, engine.Message{ID: "m2", Topic: "t", Event: "e.v", Payload: json.RawMessage(`2`)}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	failed := false
	stop, err := b.Consume(ctx, "c1", "t", "e.v", func(_ context.Context, m engine.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if m.ID == "m1" && !failed {
			failed = true
			return fmt.Errorf("not now")
		}
		got = append(got, m.ID+"="+string(m.Payload))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	waitFor(t, "two messages", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, " ") != `m2=2 m1={"n":1}` && strings.Join(got, " ") != `m1={"n":1} m2=2` {
		t.Fatalf("got %v", got)
	}
}

const flowJSON = `{"version": 1, "flows": [{
  "name": "Signup",
  "state": "SignupState",
  "triggers": [{"kind": "event", "topic": "accounts", "event": "signup.requested"}],
  "retry": {"attempts": 5, "initial": "5ms", "max": "20ms"},
  "steps": [
    {"name": "CreateCustomer",
     "action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Create", "request": "Customer", "response": "CustomerID"},
     "rollback": {"action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Delete", "request": "CustomerID"}}},
    {"name": "AwaitVerified",
     "action": {"kind": "await", "topic": "customers", "event": "customer.verified", "response": "Verified", "correlate": "CustomerID", "timeout": "1h"}},
    {"name": "Welcome", "action": {"kind": "publish", "topic": "mail", "event": "welcome", "request": "CustomerID"}}
  ]
}]}`

// customers is a fake customer service over HTTP: it creates a customer
// (once per idempotency key) and, later, announces that the customer is
// verified on the broker.
type customers struct {
	mu      sync.Mutex
	created map[string]string // idempotency key -> customer ID
	n       int
	calls   atomic.Int32
	verify  chan string
	failed  bool // the first create answered 503
}

func (c *customers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.calls.Add(1)
	key := r.Header.Get("Idempotency-Key")
	switch r.URL.Path {
	case "/Customer.Create":
		c.mu.Lock()
		if !c.failed {
			// The very first request fails: a 503 is retried.
			c.failed = true
			c.mu.Unlock()
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		id, ok := c.created[key]
		if !ok {
			c.n++
			id = fmt.Sprintf("cus-%d", c.n)
			c.created[key] = id
		}
		c.mu.Unlock()
		json.NewEncoder(w).Encode(id)
		if !ok {
			c.verify <- id
		}
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

type node struct {
	e      *engine.Engine
	broker *Broker
}

func startEngine(t *testing.T, s *server.Server, st engine.Store, id string, caller runtime.Caller, locker engine.Locker) node {
	t.Helper()
	b := connect(t, s)
	e, err := engine.New(engine.Options{Store: st, Broker: b, Caller: caller, ID: id, Locker: locker})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("signup.json", []byte(flowJSON)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return node{e, b}
}

func stopEngine(t *testing.T, n node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.e.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func runsIn(st engine.Store, state runtime.RunState) int {
	runs, _ := st.List(store.Filter{Flow: "Signup", State: state})
	return len(runs)
}

// End to end on loopback: an event on JetStream starts a flow, the flow
// calls a service over HTTP (a 503 first, retried), waits for that
// service's event, then publishes; and the same with the engine stopped
// while the run waits, the service's event sent meanwhile, and a new
// engine process (same store, same engine ID) finishing the run.
func TestEndToEndAcrossRestart(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			s := startServer(t, t.TempDir())
			svc := &customers{created: map[string]string{}, verify: make(chan string, 10)}
			hs := httptest.NewServer(svc)
			defer hs.Close()
			caller := httpcall.New(httpcall.Static{"customers": hs.URL})
			dir := t.TempDir()
			st, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			n := startEngine(t, s, st, "e1", caller, nil)
			// Mail consumer, to see the welcome event.
			var welcomes atomic.Int32
			stopMail, err := n.broker.Consume(context.Background(), "mail", "mail", "welcome", func(context.Context, engine.Message) error {
				welcomes.Add(1)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			defer stopMail()
			if err := n.broker.Publish(context.Background(), engine.Message{ID: "signup-1", Topic: "accounts", Event: "signup.requested",
				Payload: json.RawMessage(`{"Customer": {"Email": "ann@example.com"}}`)}); err != nil {
				t.Fatal(err)
			}
			cust := <-svc.verify
			waitFor(t, "run parked", func() bool { return n.e.Parked() == 1 })
			if restart {
				stopEngine(t, n)
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
			}
			// The service announces the verification (while no engine runs, when restart).
			if err := n.broker.Publish(context.Background(), engine.Message{ID: "verified-" + cust, Topic: "customers", Event: "customer.verified",
				Payload: json.RawMessage(fmt.Sprintf(`{"correlation_id": %q, "level": 2}`, cust))}); err != nil {
				t.Fatal(err)
			}
			if restart {
				st, err = store.Open(dir, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				n = startEngine(t, s, st, "e1", caller, nil)
			}
			defer st.Close()
			waitFor(t, "run done", func() bool { return runsIn(st, runtime.StateDone) == 1 })
			waitFor(t, "welcome published", func() bool { return welcomes.Load() == 1 })
			stopEngine(t, n)
			if len(svc.created) != 1 {
				t.Fatalf("customers created: %v", svc.created)
			}
			runs, _ := st.List(store.Filter{Flow: "Signup"})
			h, _ := st.Load(runs[0].RunID)
			last, _ := runtime.Replay(h)
			if !strings.Contains(string(last.Snapshot), `"Verified":{"correlation_id":"`+cust+`","level":2}`) {
				t.Fatalf("state %s", last.Snapshot)
			}
		})
	}
}

// Three engines share one JetStream and one store: every event trigger
// starts one run, every await is applied once, and no step runs twice.
func TestEnginesShareStreamAndStore(t *testing.T) {
	s := startServer(t, t.TempDir())
	svc := &customers{created: map[string]string{}, verify: make(chan string, 100)}
	hs := httptest.NewServer(svc)
	defer hs.Close()
	var creates sync.Map
	counting := callerFunc(func(ctx context.Context, service, endpoint string, req, rsp any) error {
		if endpoint == "Customer.Create" {
			// One execution of a step is one call per attempt: the same
			// key and attempt twice means two engines ran the step.
			v, _ := creates.LoadOrStore(fmt.Sprintf("%s attempt %d", runtime.IdempotencyKey(ctx), runtime.Attempt(ctx)), new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
		}
		return httpcall.New(httpcall.Static{"customers": hs.URL}).Call(ctx, service, endpoint, req, rsp)
	})
	st := store.NewMemory()
	locker := engine.NewLocker()
	var nodes []node
	for i := 0; i < 3; i++ {
		nodes = append(nodes, startEngine(t, s, st, fmt.Sprintf("e%d", i), counting, locker))
	}
	const runs = 30
	go func() {
		for cust := range svc.verify {
			nodes[0].broker.Publish(context.Background(), engine.Message{ID: "verified-" + cust, Topic: "customers", Event: "customer.verified",
				Payload: json.RawMessage(fmt.Sprintf(`{"correlation_id": %q}`, cust))})
		}
	}()
	for i := 0; i < runs; i++ {
		for range 2 { // every trigger event twice
			if err := nodes[i%3].broker.Publish(context.Background(), engine.Message{ID: fmt.Sprintf("signup-%d", i), Topic: "accounts", Event: "signup.requested",
				Payload: json.RawMessage(fmt.Sprintf(`{"Customer": {"Email": "u%d"}}`, i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "all runs done", func() bool { return runsIn(st, runtime.StateDone) == runs })
	for _, n := range nodes {
		stopEngine(t, n)
	}
	close(svc.verify)
	if got := len(func() []store.RunInfo { r, _ := st.List(store.Filter{Flow: "Signup"}); return r }()); got != runs {
		t.Fatalf("%d runs, want %d", got, runs)
	}
	creates.Range(func(k, v any) bool {
		if n := v.(*atomic.Int32).Load(); n > 1 {
			t.Errorf("Customer.Create for %s called %d times", k, n)
		}
		return true
	})
}

type callerFunc func(ctx context.Context, service, endpoint string, req, rsp any) error

func (f callerFunc) Call(ctx context.Context, service, endpoint string, req, rsp any) error {
	return f(ctx, service, endpoint, req, rsp)
}

// Engines with stores of their own share the stream: an event posted to
// one engine's door (PublishEvent) starts its run there, before the answer,
// and the trigger consumers of the group (this engine's and the others')
// leave it alone: one run per event, not one per engine.
func TestPublishEventOneRunAcrossEngines(t *testing.T) {
	s := startServer(t, t.TempDir())
	svc := &customers{created: map[string]string{}, verify: make(chan string, 100)}
	hs := httptest.NewServer(svc)
	defer hs.Close()
	caller := httpcall.New(httpcall.Static{"customers": hs.URL})
	a := startEngine(t, s, store.NewMemory(), "a", caller, nil)
	b := startEngine(t, s, store.NewMemory(), "b", caller, nil)
	defer stopEngine(t, a)
	defer stopEngine(t, b)
	const n = 20
	for i := range n {
		out, err := a.e.PublishEvent(context.Background(), engine.Message{ID: fmt.Sprintf("door-%d", i), Topic: "accounts", Event: "signup.requested",
			Payload: json.RawMessage(fmt.Sprintf(`{"Customer": {"Email": "d%d"}}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Runs) != 1 || out.Runs[0].RunID != engine.EventRunID("Signup", "accounts", "signup.requested", fmt.Sprintf("door-%d", i)) {
			t.Fatalf("PublishEvent: %+v", out)
		}
	}
	// An event published to the broker by someone else still starts a run,
	// on one engine of the group.
	if err := a.broker.Publish(context.Background(), engine.Message{ID: "outside", Topic: "accounts", Event: "signup.requested",
		Payload: json.RawMessage(`{"Customer": {"Email": "o"}}`)}); err != nil {
		t.Fatal(err)
	}
	count := func(n node) int { r, _ := n.e.Runs(context.Background(), store.Filter{Flow: "Signup"}); return len(r) }
	waitFor(t, "the outside event's run", func() bool { return count(a)+count(b) == n+1 })
	time.Sleep(50 * time.Millisecond) // let a wrong start by a trigger consumer show
	if ca, cb := count(a), count(b); ca+cb != n+1 || ca < n {
		t.Fatalf("runs: %d on the engine of the door, %d on the other; want %d and the outside event's once", ca, cb, n)
	}
}

// TestConsumeBatch runs the batch contract with a short AckWait: a
// message JetStream had already sent towards a consumer's pull as the
// consumer stopped reaches nobody, and comes back to the consumers left
// only after AckWait (ConsumeBatch's doc); with the default 30s, as long
// as the contract's wait, StopHandsBack failed when that happened.
func TestConsumeBatch(t *testing.T) {
	brokertest.Batches(t, func(t *testing.T) engine.BatchBroker {
		return connectWith(t, startServer(t, t.TempDir()), Options{Redeliver: 10 * time.Millisecond, AckWait: 2 * time.Second})
	})
}

// TestMessageLink: a message published under a span carries the span's
// traceparent in its headers, and a consumer (one by one, or in batches)
// reads it back as Message.Link; a message published under no span has
// none.
func TestMessageLink(t *testing.T) {
	b := connect(t, startServer(t, t.TempDir()))
	traceID, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	spanID, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	sender := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))
	const want = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, batch := range []bool{false, true} {
		ensureConsumer(t, b, fmt.Sprintf("links-%v", batch), "t", "e")
	}
	if err := b.Publish(sender, engine.Message{ID: "traced", Topic: "t", Event: "e", Payload: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), engine.Message{ID: "plain", Topic: "t", Event: "e", Payload: json.RawMessage(`2`)}); err != nil {
		t.Fatal(err)
	}
	links := func(name string, batch bool) map[string]string {
		var mu sync.Mutex
		got := map[string]string{}
		take := func(m engine.Message) {
			mu.Lock()
			defer mu.Unlock()
			got[m.ID] = m.Link
		}
		var stop func()
		var err error
		if batch {
			stop, err = b.ConsumeBatch(context.Background(), name, "t", "e", 8, func(_ context.Context, ms []engine.Message) error {
				for _, m := range ms {
					take(m)
				}
				return nil
			})
		} else {
			stop, err = b.Consume(context.Background(), name, "t", "e", func(_ context.Context, m engine.Message) error {
				take(m)
				return nil
			})
		}
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		waitFor(t, "both messages", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	for _, batch := range []bool{false, true} {
		got := links(fmt.Sprintf("links-%v", batch), batch)
		if got["traced"] != want || got["plain"] != "" {
			t.Errorf("batch %v: links %q, want traced: %q, plain: none", batch, got, want)
		}
	}
}
