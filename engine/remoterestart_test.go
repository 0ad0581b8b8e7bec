package engine

// A restart of the engine while a Go step or Go rollback is in flight at
// its provider: the resumed attempt finds no lease (they are kept in
// memory) until the provider registers again. It goes back to its
// recorded wait for one, spending no attempt, and runs again, the same
// attempt under the same idempotency key, when the provider comes,
// however long after its timeout; it used to wait in memory for 9/10 of
// its timeout and fail with ErrNoProvider, which failed a step of one
// attempt (the run compensated) and a rollback (compensation_failed).

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// settleFlow: Charge (one attempt of at most 10s, within an hour),
// undone by Refund, then Ship, whose outcome "lost" fails the run.
const settleFlow = `{"version": 1, "flows": [{
  "name": "Settle", "state": "SettleState",
  "triggers": [{"kind": "rpc", "endpoint": "Settle.Start"}],
  "steps": [
    {"name": "Charge", "action": {"kind": "go"}, "timeout": "10s", "deadline": "1h", "rollback": {"name": "Refund"}},
    {"name": "Ship", "action": {"kind": "go"}, "outcomes": ["lost"], "irreversible": true,
     "on": [{"on": "lost", "target": "fail"}]}
  ]}]}`

var settleHandlers = []provider.Handler{
	{Name: "Charge", Subject: "flowgen_provider.billing.step.Charge"},
	{Name: "Ship", Outcomes: []string{"lost"}, Subject: "flowgen_provider.billing.step.Ship"},
	{Name: "Refund", Rollback: true, Subject: "flowgen_provider.billing.rollback.Refund"},
}

// settleEngine starts an engine with remote providers on the durable
// store in dir, on clock, calling providers through tr, with flow Settle.
func settleEngine(t *testing.T, dir string, clock runtime.Clock, tr ProviderTransport) (*fixture, *Engine) {
	t.Helper()
	fx := newFixture(t)
	fx.st = openStore(t, dir)
	fx.clock = clock
	fx.remote = &ProviderOptions{NATS: tr}
	e := fx.start()
	if ds, err := e.LoadFlows("settle.json", []byte(settleFlow)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	return fx, e
}

// crashDuring starts a run of Settle whose provider calls answer as
// answer does, and stops the engine while the call of handler is in
// flight, as a crash would: the store closes first, so that nothing the
// call's end leads to is recorded. It returns the run and the request of
// that call.
func crashDuring(t *testing.T, dir string, clock runtime.Clock, handler string, answer func(provider.Request) []byte) (string, provider.Request) {
	t.Helper()
	inFlight, release := make(chan provider.Request, 1), make(chan struct{})
	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(_ string, req provider.Request) []byte {
		if req.Handler == handler {
			inFlight <- req
			<-release
		}
		return answer(req)
	}}
	fx, e := settleEngine(t, dir, clock, tr)
	if _, err := e.RegisterProvider("billing", provider.Registration{Handlers: settleHandlers}); err != nil {
		t.Fatal(err)
	}
	id, err := e.StartRun(context.Background(), "Settle", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	req := <-inFlight
	if err := fx.st.(*store.Store).Close(); err != nil {
		t.Fatal(err)
	}
	close(release)
	fx.stop()
	return id, req
}

// restartWaiting starts a new engine on the store in dir, with no
// provider registered, and waits until run id waits, recorded, in
// machine state for a provider of handler, the attempt in flight at the
// crash gone back to its wait; it then lets more time pass than the
// attempt's timeout, and checks that nothing happened meanwhile.
func restartWaiting(t *testing.T, dir string, clock *runtime.FakeClock, tr ProviderTransport, id, machine, topic, handler string) (*fixture, *Engine) {
	t.Helper()
	fx, e := settleEngine(t, dir, clock, tr)
	t.Cleanup(func() {
		fx.stop()
		_ = fx.st.(*store.Store).Close()
	})
	// The resumed attempt waits for a provider: recorded, or in memory
	// (as it did before GateClosed: its timeout's and the in-memory
	// wait's timers pending on the fake clock, which stands still here).
	waiting := func() bool {
		st, _ := e.Status(context.Background(), id)
		return st.Machine == machine && st.Wait != nil && st.Wait.Topic == topic && st.Wait.Event == handler && e.Stats().Waiting == 1
	}
	waitFor(t, "the resumed attempt waiting for a provider of "+handler, func() bool { return waiting() || clock.Pending() >= 2 })
	// A minute passes before the provider registers again, six times the
	// attempt's timeout (the provider's renewal may come up to a third of
	// its TTL after the restart): the run still waits, recorded, and its
	// attempt in flight at the crash went back to its wait, not spent.
	clock.Advance(time.Minute)
	if !waiting() {
		t.Fatalf("after the restart and a minute, run %s, want it waiting in %s for a provider of %s:\n%s",
			runState(fx, id), machine, handler, transitionsOf(t, e, id))
	}
	h, _ := e.History(context.Background(), id)
	back := h[len(h)-1]
	if back.From != machine && back.From != strings.Replace(machine, ":waiting", ":running", 1) || back.Outcome != "" || back.Attempt != 1 ||
		!strings.Contains(back.Error, "no live provider") || back.Wait == nil {
		t.Fatalf("the event taking the attempt back to its wait: %+v", back)
	}
	if st, _ := e.Status(context.Background(), id); st.Attempt != 1 {
		t.Errorf("status while the attempt waits again: attempt %d, want 1", st.Attempt)
	}
	// GET /runs/{id}/history names the event: it failed nothing.
	if got := historyAnswer(id, h); fmt.Sprint(got["gate_closed"]) != fmt.Sprint([]uint64{back.Seq}) || slices.Contains(got["woken"].([]uint64), back.Seq) {
		t.Errorf("history answer gate_closed %v woken %v, want gate_closed [%d]", got["gate_closed"], got["woken"], back.Seq)
	}
	return fx, e
}

// A Go step of one attempt in flight at its provider when the engine
// stops: after the restart it waits for a provider, recorded in its
// waiting state, past its timeout, and the provider's registration calls
// it again, attempt 1 under the same idempotency key; the run is done.
func TestProviderStepInFlightAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	clock := runtime.NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	ok := func(provider.Request) []byte { return []byte(`{}`) }
	id, first := crashDuring(t, dir, clock, "Charge", ok)

	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(string, provider.Request) []byte { return []byte(`{}`) }}
	_, e := restartWaiting(t, dir, clock, tr, id, "Charge:waiting", ProviderTopic, "Charge")
	if st, _ := e.Status(context.Background(), id); !st.Wait.Deadline.Equal(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("the wait's deadline %v, want the step's, from when it was entered", st.Wait.Deadline)
	}
	if _, err := e.RegisterProvider("billing", provider.Registration{Handlers: settleHandlers}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to end", func() bool { st, _ := e.Status(context.Background(), id); return st.State.Terminal() })
	if st, _ := e.Status(context.Background(), id); st.State != runtime.StateDone {
		t.Fatalf("run %s: %s\n%s", st.State, st.Err, transitionsOf(t, e, id))
	}
	again := <-tr.reqs
	if again.Handler != "Charge" || again.IdempotencyKey != first.IdempotencyKey || again.Attempt != 1 || first.Attempt != 1 {
		t.Fatalf("Charge called again %+v, first %+v: want attempt 1 under one key", again, first)
	}
}

// A Go rollback in flight at its provider when the engine stops: after the
// restart it waits for a provider, recorded in its rollback state, past
// its timeout, and the provider's registration calls it again, attempt 1
// under the same idempotency key; the run is compensated.
func TestProviderRollbackInFlightAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	clock := runtime.NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	answer := func(req provider.Request) []byte {
		if req.Handler == "Ship" {
			return []byte(`{"outcome": "lost"}`)
		}
		return []byte(`{}`)
	}
	id, first := crashDuring(t, dir, clock, "Refund", answer)

	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(_ string, req provider.Request) []byte { return answer(req) }}
	_, e := restartWaiting(t, dir, clock, tr, id, "Charge:rollback", ProviderRollbackTopic, "Refund")
	if _, err := e.RegisterProvider("billing", provider.Registration{Handlers: settleHandlers}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to end", func() bool { st, _ := e.Status(context.Background(), id); return st.State.Terminal() })
	if st, _ := e.Status(context.Background(), id); st.State != runtime.StateCompensated {
		t.Fatalf("run %s: %s\n%s", st.State, st.Err, transitionsOf(t, e, id))
	}
	again := <-tr.reqs
	if again.Handler != "Refund" || again.IdempotencyKey != first.IdempotencyKey || again.Attempt != 1 || first.Attempt != 1 {
		t.Fatalf("Refund called again %+v, first %+v: want attempt 1 under one key", again, first)
	}
}
