package engine

import (
	"context"
	"encoding/json"
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
	st0, _ := e.Status(id)
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
func TestEventBeforeAwaitAndDuplicates(t *testing.T) {
	fx := newFixture(t)
	// Customer.Create announces the payment before answering: the event
	// arrives while the run is still in the rpc step.
	fx.caller.Handle("customers", "Customer.Create", func(ctx context.Context, req json.RawMessage) (any, error) {
		fx.effects.add("create:" + runtime.IdempotencyKey(ctx))
		id := "cus-early"
		publish(t, fx.broker, "early", "payments", "payment.succeeded", map[string]any{"correlation_id": id, "amount": 1})
		publish(t, fx.broker, "early", "payments", "payment.succeeded", map[string]any{"correlation_id": id, "amount": 1})
		time.Sleep(5 * time.Millisecond)
		return id, nil
	})
	e := fx.start()
	defer fx.stop()
	id, err := e.StartRun(context.Background(), "Signup", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
	// A second run for the same customer must not get the duplicate.
	id2, err := e.StartRun(context.Background(), "Signup", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id2)
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
	st, _ := e.Status(id)
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
