package engine

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// fixture is an engine on an in-memory store with fake services.
type fixture struct {
	t       *testing.T
	st      Store
	broker  Broker
	caller  *runtime.MemoryCaller
	e       *Engine
	clock   runtime.Clock
	effects *ledger
	id      string
	locker  Locker
	auth    Authorizer
	tel     Telemetry
	remote  *ProviderOptions // remote providers on (remote_test.go)
	inboxB  int64            // Options.InboxBytes
	log     *slog.Logger     // Options.Logger
}

// ledger counts side effects by idempotency key.
type ledger struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *ledger) add(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	l.n[key]++
	return l.n[key]
}

func (l *ledger) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := 0
	for k, v := range l.n {
		if strings.HasPrefix(k, prefix) {
			total += v
		}
	}
	return total
}

func (l *ledger) dups() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k, v := range l.n {
		if v > 1 {
			out = append(out, k)
		}
	}
	return out
}

func newCaller(effects *ledger) *runtime.MemoryCaller {
	c := runtime.NewMemoryCaller()
	var n atomic.Int64
	c.Handle("customers", "Customer.Create", func(ctx context.Context, req json.RawMessage) (any, error) {
		effects.add("create:" + runtime.IdempotencyKey(ctx))
		var cust struct{ Email string }
		_ = json.Unmarshal(req, &cust)
		return "cus-" + cust.Email + "-" + itoa(n.Add(1)), nil
	})
	c.Handle("customers", "Customer.Delete", func(ctx context.Context, req json.RawMessage) (any, error) {
		effects.add("delete:" + runtime.IdempotencyKey(ctx))
		return nil, nil
	})
	return c
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func signupHandlers(effects *ledger) Provider {
	return ProviderFunc(func(r *Registry) {
		r.Step("Activate", func(ctx context.Context, s *State) (string, error) {
			effects.add("activate:" + runtime.IdempotencyKey(ctx))
			return "", s.Set("Active", true)
		})
		r.Rollback("Deactivate", func(ctx context.Context, s *State) error {
			effects.add("deactivate:" + runtime.IdempotencyKey(ctx))
			return nil
		})
		r.Step("Signup.Expire", func(ctx context.Context, s *State) (string, error) {
			effects.add("expire:" + runtime.IdempotencyKey(ctx))
			return "", nil
		})
	})
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/engine/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// start builds and starts an engine on the fixture's store and broker.
func (fx *fixture) start() *Engine {
	fx.t.Helper()
	e, err := New(Options{Store: fx.st, Broker: fx.broker, Caller: fx.caller, Clock: fx.clock, ID: fx.id, Locker: fx.locker, Authorizer: fx.auth, Telemetry: fx.tel, Providers: fx.remote, InboxBytes: fx.inboxB, Logger: fx.log})
	if err != nil {
		fx.t.Fatal(err)
	}
	e.Provide(signupHandlers(fx.effects))
	if ds, err := e.LoadFlows("signup.json", readTestdata(fx.t, "signup.json")); err != nil {
		fx.t.Fatalf("load: %v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		fx.t.Fatal(err)
	}
	fx.e = e
	return e
}

func (fx *fixture) stop() {
	fx.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fx.e.Close(ctx); err != nil {
		fx.t.Fatal(err)
	}
}

func newFixture(t *testing.T) *fixture {
	effects := &ledger{}
	return &fixture{t: t, st: store.NewMemory(), broker: NewMemoryBroker(), caller: newCaller(effects),
		effects: effects, clock: runtime.RealClock(), id: "test"}
}

// waitFor polls cond (state changes happen on other goroutines) until it
// holds or the test's patience ends; no assertion depends on how long it took.
// The patience is a hang guard only: under -race on a loaded 2-core
// machine a run of megabytes took more than 40 s, and 20 s failed it.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func runState(fx *fixture, runID string) runtime.RunState {
	info, ok := fx.st.Get(runID)
	if !ok {
		return ""
	}
	return info.State
}

// waitParked waits until runID's wait is recorded and the subscriber has
// it (no message for it yet).
func waitParked(t testing.TB, e *Engine, runID string) {
	t.Helper()
	waitFor(t, "run "+runID+" to park", func() bool {
		st, err := e.Status(context.Background(), runID)
		return err == nil && st.Wait != nil && e.ws.has(runID)
	})
}

// has reports whether a wait of runID is indexed.
func (ws *waits) has(runID string) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, t := range ws.byTE {
		lists := [][]*waitSub{t.any}
		for _, byV := range t.byField {
			for _, list := range byV {
				lists = append(lists, list)
			}
		}
		for _, list := range lists {
			for _, s := range list {
				if strings.HasPrefix(s.req.key, runID+"/") { // the wait's key is "<run>/<step>..."
					return true
				}
			}
		}
	}
	return false
}

func publish(t testing.TB, b Broker, id, topic, event string, payload any) {
	t.Helper()
	raw, _ := json.Marshal(payload)
	if err := b.Publish(context.Background(), Message{ID: id, Topic: topic, Event: event, Payload: raw}); err != nil {
		t.Fatal(err)
	}
}

// startSignup starts a Signup run for email and waits until it waits for
// the payment; it returns the run's ID and its customer (the awaited
// event's correlation_id).
func startSignup(t *testing.T, e *Engine, email string) (id, customer string) {
	t.Helper()
	id, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"`+email+`"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	st, _ := e.Status(context.Background(), id)
	var state State
	if err := json.Unmarshal(st.Snapshot, &state); err != nil {
		t.Fatal(err)
	}
	return id, state.String("CustomerID")
}

func TestJSONFlowRunsToDone(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	id, cust := startSignup(t, e, "ann")
	st, _ := e.Status(context.Background(), id)
	if !strings.HasPrefix(cust, "cus-ann-") || st.Wait.Correlation != cust {
		t.Fatalf("customer %q, waiting %+v", cust, st.Wait)
	}
	if got := e.Parked(); got != 1 {
		t.Fatalf("parked = %d, want 1", got)
	}
	// An event for another customer does not wake the run.
	publish(t, fx.broker, "p0", "payments", "payment.succeeded", map[string]any{"correlation_id": "someone-else", "amount": 1})
	publish(t, fx.broker, "p1", "payments", "payment.succeeded", map[string]any{"correlation_id": cust, "amount": 42})
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
	st, _ = e.Status(context.Background(), id)
	var state State
	if err := json.Unmarshal(st.Snapshot, &state); err != nil {
		t.Fatal(err)
	}
	var pay struct{ Amount int }
	if err := state.Get("Payment", &pay); err != nil || pay.Amount != 42 {
		t.Fatalf("payment %+v, %v", pay, err)
	}
	var active bool
	_ = state.Get("Active", &active)
	if !active {
		t.Fatal("Activate's change to the state is lost")
	}
	if n := fx.effects.count("create:"); n != 1 {
		t.Fatalf("Customer.Create called %d times", n)
	}
	if e.Parked() != 0 {
		t.Fatalf("parked = %d after the run ended", e.Parked())
	}
}

// An engine that no Go handler will ever serve (Options.NoGoHandlers:
// flowgen-temporal serve, which has neither a Registry its program fills
// nor remote providers) refuses a flow with a Go step saying so, and where
// it can run, not with the hint to register a handler nobody could.
func TestNoGoHandlersRefusal(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory(), NoGoHandlers: true})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.LoadFlows("signup.json", readTestdata(t, "signup.json"))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	var all string
	for _, d := range ds {
		if d.Code == "no-handler" {
			all += d.String() + " hint: " + d.Hint + "\n"
		}
	}
	for _, want := range []string{`Go step "Activate" of flow "Signup" cannot run here: this server serves no Go handlers`,
		`Go rollback "Deactivate" of flow "Signup" cannot run here`, "flowgen serve", "remote providers", "-target temporal"} {
		if !strings.Contains(all, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "Registry.Step") || strings.Contains(all, "register it before") {
		t.Errorf("the refusal asks to register a handler, which this engine cannot have:\n%s", all)
	}
	if _, err := New(Options{Store: store.NewMemory(), NoGoHandlers: true, Providers: &ProviderOptions{}}); err == nil {
		t.Error("New took NoGoHandlers with Providers")
	}
}

func TestUnregisteredHandlerRejectedAtLoad(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.LoadFlows("signup.json", readTestdata(t, "signup.json"))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.String())
	}
	want := []string{
		`signup.json:$.flows[0].steps[2].name: error: no handler registered for Go step "Activate" of flow "Signup"`,
		`signup.json:$.flows[0].steps[2].rollback.name: error: no handler registered for Go rollback "Deactivate" of flow "Signup"`,
		`signup.json:$.flows[0].steps[3].name: error: no handler registered for Go step "Expire" of flow "Signup"`,
		// The engine has no Caller either.
		`signup.json:$.flows[0].name: error: flow "Signup" calls services (rpc), but the engine has no Caller`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(e.Flows()) != 0 {
		t.Fatalf("flows registered despite errors: %v", e.Flows())
	}
}
