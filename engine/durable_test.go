package engine

import (
	"context"
	"encoding/json"
	"errors"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A run parked on an await survives the engine and the store closing; the
// event published while no engine runs is delivered after the restart,
// and the same event published again is not applied again.
func TestParkedRunSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	fx := newFixture(t)
	st := openStore(t, dir)
	fx.st = st
	e := fx.start()
	id, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"bob"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	st0, _ := e.Status(context.Background(), id)
	fx.stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var state State
	if err := json.Unmarshal(st0.Snapshot, &state); err != nil {
		t.Fatal(err)
	}
	cust := state.String("CustomerID")
	// The engine is down: the broker keeps the event for its consumer.
	publish(t, fx.broker, "pay-1", "payments", "payment.succeeded", map[string]any{"correlation_id": cust, "amount": 7})

	st = openStore(t, dir)
	defer st.Close()
	fx.st = st
	fx.start()
	waitFor(t, "run done after restart", func() bool { return runState(fx, id) == runtime.StateDone })
	// The same message again (a redelivery) changes nothing.
	publish(t, fx.broker, "pay-1", "payments", "payment.succeeded", map[string]any{"correlation_id": cust, "amount": 7})
	fx.stop()
	if n := fx.effects.count("create:"); n != 1 {
		t.Fatalf("Customer.Create ran %d times", n)
	}
	if n := fx.effects.count("activate:"); n != 1 {
		t.Fatalf("Activate ran %d times", n)
	}
	h, _ := st.Load(id)
	if _, err := runtime.Replay(h); err != nil {
		t.Fatal(err)
	}
	// The inbox holds the message once, claimed by the run's await.
	ms, _ := st.Messages(store.MessageFilter{})
	if len(ms) != 1 || ms[0].ID != "pay-1" || ms[0].State != store.MessageClaimed || ms[0].ClaimedBy != id+"/AwaitPayment" {
		t.Errorf("inbox: %+v", ms)
	}
	// Runs are runs only.
	if runs, _ := st.List(store.Filter{}); len(runs) != 1 {
		t.Errorf("runs: %+v", runs)
	}
}

// An event that comes before the run reaches its await is kept, and the
// await takes it; a second copy (same ID) is not applied to a later await.
// The order is made certain, not likely: each Customer.Create announces
// the payment (twice, the same ID) and then holds the run in its rpc step,
// just before the await, until the test has seen both copies handled and
// the event in the inbox; the test moves the engine's clock on before it
// lets the run go, so the history shows the await entered after the
// event was received.
func TestEventBeforeAwaitAndDuplicates(t *testing.T) {
	fx := newFixture(t)
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fx.clock = clock
	mem := store.NewMemory()
	fx.st = mem
	b := fx.broker.(*MemoryBroker)
	// quit lets a held rpc go when the test ends early.
	announced, release, quit := make(chan struct{}), make(chan struct{}), make(chan struct{})
	fx.caller.Handle("customers", "Customer.Create", func(ctx context.Context, req json.RawMessage) (any, error) {
		fx.effects.add("create:" + runtime.IdempotencyKey(ctx))
		id := "cus-early"
		for range 2 {
			raw, _ := json.Marshal(map[string]any{"correlation_id": id, "amount": 1})
			if err := b.Publish(ctx, Message{ID: "early", Topic: "payments", Event: "payment.succeeded", Payload: raw}); err != nil {
				return nil, err
			}
		}
		select {
		case announced <- struct{}{}:
		case <-quit:
			return nil, errors.New("the test ended")
		}
		select {
		case <-release:
		case <-quit:
			return nil, errors.New("the test ended")
		}
		return id, nil
	})
	e := fx.start()
	defer fx.stop()
	defer close(quit)
	// heldUntilReceived lets a run held in Customer.Create go once the
	// broker has handed both copies to the engine (which acknowledges a
	// message once its inbox holds it) and the clock has moved on.
	heldUntilReceived := func() {
		t.Helper()
		waitFor(t, "Customer.Create", func() bool {
			select {
			case <-announced:
				return true
			default:
				return false
			}
		})
		waitFor(t, "both copies handled", func() bool { return b.Stats().Held == 0 })
		if ms := inboxOf(t, mem, store.MessageFilter{}); len(ms) != 1 || ms[0].ID != "early" {
			t.Fatalf("inbox before the await: %+v, want the event once", ms)
		}
		clock.Advance(time.Second)
		release <- struct{}{}
	}

	id, err := e.StartRun(context.Background(), "Signup", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	heldUntilReceived()
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
	ms := inboxOf(t, mem, store.MessageFilter{})
	if len(ms) != 1 || ms[0].State != store.MessageClaimed || ms[0].ClaimedBy != id+"/AwaitPayment" {
		t.Fatalf("inbox: %+v, want the event once, claimed by %s/AwaitPayment", ms, id)
	}
	h, err := fx.st.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	var entered *runtime.Event
	for i := range h {
		if h[i].To == "AwaitPayment:waiting" && h[i].From != h[i].To {
			entered = &h[i]
			break
		}
	}
	if entered == nil {
		t.Fatalf("no event enters the await in %+v", h)
	}
	if !ms[0].Received.Before(entered.Time) {
		t.Fatalf("the event was received at %v, the await entered at %v: not an event before the await", ms[0].Received, entered.Time)
	}

	// A second run for the same customer, whose rpc announces the same
	// event again before its await, must not get it: it was taken.
	id2, err := e.StartRun(context.Background(), "Signup", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	heldUntilReceived()
	waitParked(t, e, id2)
	if ms := inboxOf(t, mem, store.MessageFilter{}); len(ms) != 1 || ms[0].ClaimedBy != id+"/AwaitPayment" {
		t.Fatalf("inbox after the copies: %+v, want the event claimed by the first run only", ms)
	}
	if st := runState(fx, id2); st != runtime.StateWaiting {
		t.Fatalf("second run %s, want it waiting", st)
	}
	if n := fx.effects.count("activate:"); n != 1 {
		t.Fatalf("Activate ran %d times, want once", n)
	}
}

// An await times out after its timeout, with the engine's clock, and the
// timeout outcome is routed (Expire -> fail, which rolls back).
func TestAwaitTimeoutRoutes(t *testing.T) {
	fx := newFixture(t)
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fx.clock = clock
	e := fx.start()
	defer fx.stop()
	id, err := e.StartRun(context.Background(), "Signup", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	clock.BlockUntil(1)
	clock.Advance(72 * time.Hour)
	waitFor(t, "run compensated", func() bool { return runState(fx, id) == runtime.StateCompensated })
	if fx.effects.count("expire:") != 1 || fx.effects.count("delete:") != 1 {
		t.Fatalf("effects %v", fx.effects.n)
	}
}

// A parked run times out on schedule after a restart too: the wait counts
// from when the await was entered, as recorded in the history.
func TestAwaitTimeoutAcrossRestart(t *testing.T) {
	fx := newFixture(t)
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fx.clock = clock
	e := fx.start()
	id, err := e.StartRun(context.Background(), "Signup", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	fx.stop()
	clock.Advance(71 * time.Hour)
	e = fx.start()
	defer fx.stop()
	waitParked(t, e, id)
	st, _ := e.Status(context.Background(), id)
	if want := time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC); st.Wait == nil || !st.Wait.Deadline.Equal(want) {
		t.Fatalf("wait %+v, want the deadline %v", st.Wait, want)
	}
	clock.BlockUntil(1)
	clock.Advance(time.Hour)
	waitFor(t, "run compensated", func() bool { return runState(fx, id) == runtime.StateCompensated })
}

// Abort of a parked run rolls back its completed steps.
func TestAbortParkedRun(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	id, err := e.StartRun(context.Background(), "Signup", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	if err := e.Abort(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run aborted", func() bool { return runState(fx, id) == runtime.StateAborted })
	if fx.effects.count("delete:") != 1 {
		t.Fatalf("Customer.Delete ran %d times", fx.effects.count("delete:"))
	}
	if e.Parked() != 0 {
		t.Fatal("aborted run still parked")
	}
}

// Parked runs hold no goroutine: parking many runs leaves the number of
// goroutines where it was.
func TestParkedRunsHoldNoGoroutine(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	before := goruntime.NumGoroutine()
	const n = 300
	for i := 0; i < n; i++ {
		if _, err := e.StartRun(context.Background(), "Signup", nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all parked", func() bool { return e.Parked() == n })
	waitFor(t, "goroutines back to where they were", func() bool { return goruntime.NumGoroutine() <= before+5 })
}
