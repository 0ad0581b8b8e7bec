package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Generated flows' awaits (runtime.NewAwait) park like JSON flows' awaits:
// the flows here are built the way flowgen's generated code builds them.

type genOrder struct {
	OrderID string `json:"order_id"`
	Payment struct {
		Amount int `json:"amount"`
	} `json:"payment"`
	Shipped bool `json:"shipped"`
	Expired bool `json:"expired"`
}

// genOrderEngine starts the fixture's engine with GenOrder registered,
// started by the event orders/order.placed; the test's cleanup stops it.
func genOrderEngine(t *testing.T) (*fixture, *Engine) {
	t.Helper()
	fx := newFixture(t)
	e := fx.start()
	t.Cleanup(fx.stop)
	if err := RegisterFlow(e, newGenOrder(e, fx.effects, 0), OnEvent("orders", "order.placed")); err != nil {
		t.Fatal(err)
	}
	return fx, e
}

// newGenOrder is what `flowgen gen` writes for
//
//	flow GenOrder {
//	    state genOrder
//	    step AwaitPayment {
//	        await payments "order.paid" -> Payment correlate OrderID timeout 1h
//	        deadline <deadline>
//	        on timeout -> Expire
//	    }
//	    step Ship { irreversible  on ok -> done }
//	    step Expire { irreversible }
//	}
func newGenOrder(e *Engine, effects *ledger, deadline time.Duration) *runtime.Flow[genOrder] {
	f := runtime.New[genOrder]("GenOrder", e.RuntimeOptions()...)
	var steps []*runtime.Step[genOrder]
	var st *runtime.Step[genOrder]

	st = runtime.NewAwait[genOrder]("payments", "order.paid",
		func(s *genOrder) any { return &s.Payment },
		func(s *genOrder) string { return string(s.OrderID) },
		time.Hour)
	st.ID = "AwaitPayment"
	st.Deadline = deadline
	st.Irreversible = true
	st.Next = map[runtime.Outcome]string{runtime.OutcomeTimeout: "Expire"}
	steps = append(steps, st)

	st = runtime.NewStep[genOrder]("Ship", func(ctx context.Context, s *genOrder) (runtime.Outcome, error) {
		effects.add("ship:" + runtime.IdempotencyKey(ctx))
		s.Shipped = true
		return runtime.OutcomeOK, nil
	})
	st.Irreversible = true
	st.Next = map[runtime.Outcome]string{runtime.OutcomeOK: runtime.Done}
	steps = append(steps, st)

	st = runtime.NewStep[genOrder]("Expire", func(ctx context.Context, s *genOrder) (runtime.Outcome, error) {
		effects.add("expire:" + runtime.IdempotencyKey(ctx))
		s.Expired = true
		return runtime.OutcomeOK, nil
	})
	st.Irreversible = true
	steps = append(steps, st)

	if err := f.Register(steps...); err != nil {
		panic(err)
	}
	return f
}

// startGenEngine starts an engine with GenOrder, triggered by the rpc
// GenOrder.Start and the triggers given.
func startGenEngine(t *testing.T, opts Options, effects *ledger, deadline time.Duration, triggers ...runtime.Trigger) *Engine {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := RegisterFlow(e, newGenOrder(e, effects, deadline), append([]runtime.Trigger{RPC("GenOrder.Start")}, triggers...)...); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

func startOrder(t *testing.T, e *Engine, order string) string {
	t.Helper()
	id, err := e.StartRun(context.Background(), "GenOrder", json.RawMessage(`{"order_id":"`+order+`"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func payOrder(t *testing.T, b Broker, order string, amount int) {
	t.Helper()
	publish(t, b, "pay-"+order, "payments", "order.paid", map[string]any{"correlation_id": order, "amount": amount})
}

func orderState(t *testing.T, e *Engine, runID string) (genOrder, runtime.RunState) {
	t.Helper()
	st, err := e.Status(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	var s genOrder
	if err := json.Unmarshal(st.Snapshot, &s); err != nil {
		t.Fatal(err)
	}
	return s, st.State
}

// 300 runs of a generated flow parked on their awaits hold no goroutine and
// leave their histories on the await; their events (each published twice)
// complete every run once, each with its own payment.
func TestGeneratedAwaitsPark(t *testing.T) {
	st := store.NewMemory()
	broker := NewMemoryBroker()
	effects := &ledger{}
	e := startGenEngine(t, Options{Store: st, Broker: broker}, effects, 0)
	defer closeEngine(t, e)
	// The first await starts the engine's consumer of the topic: park one
	// run before counting goroutines.
	ids := []string{startOrder(t, e, "o-0")}
	waitParked(t, e, ids[0])
	before := goruntime.NumGoroutine()
	const n = 300
	for i := 1; i <= n; i++ {
		ids = append(ids, startOrder(t, e, fmt.Sprintf("o-%d", i)))
	}
	waitFor(t, "all parked", func() bool { return e.Parked() == n+1 })
	waitFor(t, "goroutines back to where they were", func() bool { return goruntime.NumGoroutine() <= before+5 })
	for _, id := range ids {
		if info, _ := st.Get(id); info.Machine != "AwaitPayment:waiting" {
			t.Fatalf("parked run %s is at %s, want AwaitPayment:waiting", id, info.Machine)
		}
	}
	w, err := e.Status(context.Background(), ids[7])
	if err != nil || w.Wait == nil || w.Wait.Correlation != "o-7" || w.Wait.Topic != "payments" || w.Wait.Deadline.IsZero() {
		t.Fatalf("status of a parked run: %+v, %v", w, err)
	}

	for i := range ids {
		payOrder(t, broker, fmt.Sprintf("o-%d", i), i)
		payOrder(t, broker, fmt.Sprintf("o-%d", i), i) // the same message again
	}
	for i, id := range ids {
		waitFor(t, "run "+id+" done", func() bool { i, _ := st.Get(id); return i.State == runtime.StateDone })
		if s, _ := orderState(t, e, id); s.Payment.Amount != i || !s.Shipped {
			t.Fatalf("run %s (order o-%d): state %+v", id, i, s)
		}
	}
	if got := effects.count("ship:"); got != n+1 {
		t.Fatalf("Ship ran %d times for %d runs", got, n+1)
	}
	if d := effects.dups(); len(d) > 0 {
		t.Fatalf("steps ran twice: %v", d)
	}
	if e.Parked() != 0 {
		t.Fatalf("%d runs still parked", e.Parked())
	}
}

// Generated runs parked on their awaits stop with the engine (Close does not
// wait for them) and survive the store closing: events published while no
// engine runs complete them after the restart, a later event completes the
// one still parked, and a redelivered event is applied once.
func TestGeneratedAwaitSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	broker := NewMemoryBroker()
	effects := &ledger{}
	st := openStore(t, dir)
	e := startGenEngine(t, Options{Store: st, Broker: broker, ID: "gen"}, effects, 0)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, startOrder(t, e, fmt.Sprintf("r-%d", i)))
	}
	waitFor(t, "all parked", func() bool { return e.Parked() == 3 })
	closeEngine(t, e)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	payOrder(t, broker, "r-0", 10)
	payOrder(t, broker, "r-1", 11)
	payOrder(t, broker, "r-1", 11)

	st = openStore(t, dir)
	defer st.Close()
	e = startGenEngine(t, Options{Store: st, Broker: broker, ID: "gen"}, effects, 0)
	defer closeEngine(t, e)
	for i, id := range ids[:2] {
		waitFor(t, "run done after restart", func() bool { i, _ := st.Get(id); return i.State == runtime.StateDone })
		if s, _ := orderState(t, e, id); s.Payment.Amount != 10+i || !s.Shipped {
			t.Fatalf("run %s: state %+v", id, s)
		}
	}
	waitParked(t, e, ids[2])
	payOrder(t, broker, "r-2", 12)
	payOrder(t, broker, "r-0", 10) // a redelivery after the run took it
	waitFor(t, "last run done", func() bool { i, _ := st.Get(ids[2]); return i.State == runtime.StateDone })
	if s, _ := orderState(t, e, ids[2]); s.Payment.Amount != 12 {
		t.Fatalf("run %s: state %+v", ids[2], s)
	}
	if got := effects.count("ship:"); got != 3 {
		t.Fatalf("Ship ran %d times for 3 runs", got)
	}
	for _, id := range ids {
		h, _ := st.Load(id)
		if _, err := runtime.Replay(h); err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
	}
}

// A generated await's wait ends at the sooner of its timeout and its step's
// deadline, counted from when the step was entered (across a restart); the
// timeout outcome is routed. Abort of a parked generated run ends it.
func TestGeneratedAwaitTimeoutAndAbort(t *testing.T) {
	st := store.NewMemory()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	effects := &ledger{}
	opts := Options{Store: st, Clock: clock}
	e := startGenEngine(t, opts, effects, 30*time.Minute)
	late := startOrder(t, e, "late")
	aborted := startOrder(t, e, "aborted")
	waitParked(t, e, late)
	waitParked(t, e, aborted)
	closeEngine(t, e)
	clock.Advance(20 * time.Minute)

	e = startGenEngine(t, opts, effects, 30*time.Minute)
	defer closeEngine(t, e)
	waitParked(t, e, late)
	if s, _ := e.Status(context.Background(), late); s.Wait == nil || !s.Wait.Deadline.Equal(time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)) {
		t.Fatalf("waiting %+v, want the deadline at 00:30", s.Wait)
	}
	if err := e.Abort(context.Background(), aborted); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run aborted", func() bool { i, _ := st.Get(aborted); return i.State == runtime.StateAborted })
	clock.BlockUntil(1)
	clock.Advance(10 * time.Minute)
	waitFor(t, "run expired", func() bool { i, _ := st.Get(late); return i.State == runtime.StateDone })
	if s, _ := orderState(t, e, late); !s.Expired || s.Shipped {
		t.Fatalf("state %+v, want expired", s)
	}
	if effects.count("expire:") != 1 || effects.count("ship:") != 0 {
		t.Fatalf("effects %v", effects.n)
	}
}

// A generated flow has no JSON definition and no remote handlers: the API
// answers 404, as for a flow it does not know, but says what the flow is
// rather than "unknown flow".
func TestGeneratedFlowHasNoDefinition(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	if err := RegisterFlow(e, newGenOrder(e, fx.effects, 0)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	c := apiClient{t, srv}
	for _, path := range []string{"/flows/GenOrder", "/flows/GenOrder/handlers"} {
		status, body := c.do("GET", path, "")
		msg, _ := body["error"].(string)
		if status != 404 || !strings.Contains(msg, `flow "GenOrder" is a generated flow, registered in Go`) || strings.Contains(msg, "unknown flow") {
			t.Errorf("GET %s: %d %v", path, status, body)
		}
	}
}

// Without remote providers (Options.Providers nil), GET /providers lists
// none as an empty list, as an engine with providers and none registered
// does: not null.
func TestProvidersOffListsNone(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	status, body := apiClient{t, srv}.do("GET", "/providers", "")
	if ps, ok := body["providers"].([]any); status != 200 || !ok || len(ps) != 0 {
		t.Fatalf("GET /providers: %d %v, want 200 and an empty list", status, body)
	}
}
