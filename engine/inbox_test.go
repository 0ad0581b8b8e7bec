package engine

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

func publishRaw(t testing.TB, b Broker, id, topic, event, payload string) {
	t.Helper()
	if err := b.Publish(context.Background(), Message{ID: id, Topic: topic, Event: event, Payload: json.RawMessage(payload)}); err != nil {
		t.Fatal(err)
	}
}

func inboxOf(t testing.TB, in InboxStore, f store.MessageFilter) []store.Message {
	t.Helper()
	ms, err := in.Messages(f)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// A trigger event whose payload cannot start a run is dead-lettered at
// once, with a reason, instead of being redelivered forever (which held up
// every later event of the topic): the events after it start their runs.
// For a JSON flow, a payload that is not JSON; for a generated flow, one
// that does not decode into its state type. The dead letters are listed by
// the API, and a redelivery of a dead message stays dead.
func TestPoisonTriggerEventDeadLettered(t *testing.T) {
	fx, e := genOrderEngine(t)
	publishRaw(t, fx.broker, "bad-1", "accounts", "signup.requested", `{"Customer": `)
	publishRaw(t, fx.broker, "good-1", "accounts", "signup.requested", `{"Customer": {"Email": "eve"}}`)
	publishRaw(t, fx.broker, "bad-2", "orders", "order.placed", `{"order_id": 42}`)
	publishRaw(t, fx.broker, "good-2", "orders", "order.placed", `{"order_id": "o-42"}`)
	waitParked(t, e, EventRunID("Signup", "accounts", "signup.requested", "good-1"))
	waitParked(t, e, EventRunID("GenOrder", "orders", "order.placed", "good-2"))
	for _, id := range []string{EventRunID("Signup", "accounts", "signup.requested", "bad-1"), EventRunID("GenOrder", "orders", "order.placed", "bad-2")} {
		if _, ok := fx.st.Get(id); ok {
			t.Fatalf("a poison event started run %s", id)
		}
	}

	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	c := apiClient{t, srv}
	// Each trigger's events are applied by several workers at once, so a
	// good event's run may wait before the bad event before it is
	// dead-lettered.
	var status int
	var body map[string]any
	var dls []any
	waitFor(t, "both poison events dead-lettered", func() bool {
		status, body = c.do("GET", "/deadletters", "")
		dls, _ = body["dead_letters"].([]any)
		return status != 200 || len(dls) >= 2
	})
	if status != 200 || len(dls) != 2 {
		t.Fatalf("GET /deadletters: %d %v", status, body)
	}
	first := dls[0].(map[string]any) // the two topics' consumers run concurrently: either may be first
	if first["id"] != "bad-1" {
		first = dls[1].(map[string]any)
	}
	if first["topic"] != "accounts" || first["event"] != "signup.requested" || first["id"] != "bad-1" ||
		!strings.Contains(first["reason"].(string), "cannot start flow Signup") || first["time"] == nil ||
		first["payload_text"] != `{"Customer": ` {
		t.Fatalf("dead letter %v", first)
	}
	status, body = c.do("GET", "/deadletters?topic=orders&event=order.placed", "")
	dls, _ = body["dead_letters"].([]any)
	if status != 200 || len(dls) != 1 {
		t.Fatalf("GET /deadletters?topic=orders: %d %v", status, body)
	}
	if d := dls[0].(map[string]any); d["id"] != "bad-2" || !strings.Contains(d["reason"].(string), "GenOrder") ||
		!strings.Contains(string(mustJSON(t, d["payload"])), `"order_id":42`) {
		t.Fatalf("dead letter %v", d)
	}
	if status, body = c.do("GET", "/deadletters?topic=nope", ""); status != 200 || len(body["dead_letters"].([]any)) != 0 {
		t.Fatalf("GET /deadletters?topic=nope: %d %v", status, body)
	}

	// Redelivered: still dead, still acknowledged, and later events go on.
	publishRaw(t, fx.broker, "bad-1", "accounts", "signup.requested", `{"Customer": `)
	publishRaw(t, fx.broker, "good-3", "accounts", "signup.requested", `{"Customer": {"Email": "fay"}}`)
	waitParked(t, e, EventRunID("Signup", "accounts", "signup.requested", "good-3"))
	if dls, _ := e.DeadLetters("", ""); len(dls) != 2 {
		t.Fatalf("dead letters after the redelivery: %+v", dls)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startJSONEngine starts an engine with the JSON flows of doc.
func startJSONEngine(t *testing.T, opts Options, doc string) *Engine {
	t.Helper()
	return startJSONEngineWith(t, opts, doc, func(*Engine) {})
}

// startJSONEngineWith is startJSONEngine, calling before with the engine
// before it loads doc (to register its Go steps' handlers).
func startJSONEngineWith(t *testing.T, opts Options, doc string, before func(*Engine)) *Engine {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	before(e)
	if ds, err := e.LoadFlows("flows.json", []byte(doc)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

const payFlow = `{"version": 1, "flows": [{
  "name": "Pay", "state": "PayState",
  "triggers": [{"kind": "rpc", "endpoint": "Pay.Start"}],
  "steps": [{"name": "AwaitPayment", "irreversible": true,
    "action": {"kind": "await", "topic": "payments", "event": "order.paid", "response": "Payment", "correlate": "OrderID", "timeout": "100h"}}]
}]}`

// An awaited event that no run takes expires after the inbox's retention
// (counted from its arrival), and the expiry is recorded: the event does
// not complete a run that starts later and awaits it. A claimed message
// expires the same way, counted from its claim.
func TestUnmatchedEventExpires(t *testing.T) {
	st := store.NewMemory()
	broker := NewMemoryBroker()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := startJSONEngine(t, Options{Store: st, Broker: broker, Clock: clock, InboxRetention: 2 * time.Hour}, payFlow)
	defer closeEngine(t, e)
	payOrder(t, broker, "stray", 7) // no run awaits order "stray" yet
	stray := store.MessageKey{Topic: "payments", Event: "order.paid", ID: "pay-stray"}
	waitFor(t, "the stray payment pending", func() bool { _, ok, _ := st.GetMessage(stray); return ok })
	clock.Advance(2*time.Hour - time.Minute)
	time.Sleep(10 * time.Millisecond) // let a wrong expiry show
	if m, ok, _ := st.GetMessage(stray); !ok || m.State != store.MessagePending {
		t.Fatalf("before the retention ends: %+v, %v", m, ok)
	}
	// Time goes on (a minute per look, so that the expiry timer fires
	// whenever it was armed).
	waitFor(t, "the stray payment expired", func() bool {
		clock.Advance(time.Minute)
		_, ok, _ := st.GetMessage(stray)
		return !ok
	})

	late, err := e.StartRun(context.Background(), "Pay", json.RawMessage(`{"OrderID":"stray"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, late)
	time.Sleep(20 * time.Millisecond) // let a wrong delivery show
	if i, _ := st.Get(late); i.State != runtime.StateWaiting {
		t.Fatalf("the run awaiting an expired event is %s", i.State)
	}
	// A new payment for it completes it.
	publish(t, broker, "pay-stray-again", "payments", "order.paid", map[string]any{"correlation_id": "stray", "amount": 9})
	waitFor(t, "late run done", func() bool { i, _ := st.Get(late); return i.State == runtime.StateDone })
	s, _ := e.Status(context.Background(), late)
	if !strings.Contains(string(s.Snapshot), `"amount":9`) {
		t.Fatalf("late run's state %s", s.Snapshot)
	}
	claimed := inboxOf(t, st, store.MessageFilter{})
	if len(claimed) != 1 || claimed[0].State != store.MessageClaimed {
		t.Fatalf("inbox: %+v", claimed)
	}
	clock.Advance(2*time.Hour - time.Minute)
	time.Sleep(10 * time.Millisecond)
	if len(inboxOf(t, st, store.MessageFilter{})) != 1 {
		t.Fatal("the claimed message expired before the retention")
	}
	waitFor(t, "the claimed payment expired", func() bool {
		clock.Advance(time.Minute)
		return len(inboxOf(t, st, store.MessageFilter{})) == 0
	})
}

// Message IDs are scoped by topic and event: the same ID on two topics is
// two messages, and a run awaiting both gets both.
func TestSameMessageIDOnTwoTopics(t *testing.T) {
	const twoAwaits = `{"version": 1, "flows": [{
  "name": "Two", "state": "TwoState",
  "triggers": [{"kind": "rpc", "endpoint": "Two.Start"}],
  "steps": [
    {"name": "AwaitA", "action": {"kind": "await", "topic": "a", "event": "x", "response": "A", "timeout": "1h"}, "irreversible": true},
    {"name": "AwaitB", "action": {"kind": "await", "topic": "b", "event": "x", "response": "B", "timeout": "1h"}, "irreversible": true}
  ]
}]}`
	st := store.NewMemory()
	broker := NewMemoryBroker()
	e := startJSONEngine(t, Options{Store: st, Broker: broker}, twoAwaits)
	defer closeEngine(t, e)
	id, err := e.StartRun(context.Background(), "Two", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	publishRaw(t, broker, "same", "a", "x", `{"n": 1}`)
	publishRaw(t, broker, "same", "b", "x", `{"n": 2}`)
	waitFor(t, "run done", func() bool { i, _ := st.Get(id); return i.State == runtime.StateDone })
	s, _ := e.Status(context.Background(), id)
	if !strings.Contains(string(s.Snapshot), `"A":{"n":1}`) || !strings.Contains(string(s.Snapshot), `"B":{"n":2}`) {
		t.Fatalf("state %s", s.Snapshot)
	}
}

// The inbox survives a restart: a pending message is delivered to the run
// that awaits it after the restart, a message claimed for an await before a
// crash (the claim is durable, the run had not recorded the step's end) is
// handed to that await again, and dead letters are still listed.
func TestInboxSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	broker := NewMemoryBroker()
	effects := &ledger{}
	st := openStore(t, dir)
	opts := Options{Store: st, Broker: broker, ID: "gen"}
	placed := OnEvent("orders", "order.placed")
	e := startGenEngine(t, opts, effects, 0, placed)
	crashed := startOrder(t, e, "crashed")
	waitParked(t, e, crashed)
	payOrder(t, broker, "later", 5) // pending: no run awaits "later" yet
	publishRaw(t, broker, "bad", "orders", "order.placed", `[]`)
	waitFor(t, "pending and dead", func() bool {
		return len(inboxOf(t, st, store.MessageFilter{State: store.MessagePending})) == 1 &&
			len(inboxOf(t, st, store.MessageFilter{State: store.MessageDead})) == 1
	})
	closeEngine(t, e)
	// A crash between the claim and the wake: the payment is recorded and
	// claimed for the parked run's await, and nothing else happened.
	ctx := context.Background()
	now := time.Now()
	paid := store.Message{Topic: "payments", Event: "order.paid", ID: "pay-crashed", Payload: json.RawMessage(`{"correlation_id":"crashed","amount":3}`), Received: now}
	if _, _, err := st.PutMessage(ctx, paid); err != nil {
		t.Fatal(err)
	}
	if err := st.ClaimMessage(ctx, paid.Key(), runtime.Key{RunID: crashed, Step: "AwaitPayment", Visit: 1}.String(), now); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, dir)
	defer st.Close()
	opts.Store = st
	e = startGenEngine(t, opts, effects, 0, placed)
	defer closeEngine(t, e)
	waitFor(t, "crashed run done", func() bool { i, _ := st.Get(crashed); return i.State == runtime.StateDone })
	if s, _ := orderState(t, e, crashed); s.Payment.Amount != 3 {
		t.Fatalf("crashed run's state %+v", s)
	}
	later := startOrder(t, e, "later")
	waitFor(t, "later run done", func() bool { i, _ := st.Get(later); return i.State == runtime.StateDone })
	if s, _ := orderState(t, e, later); s.Payment.Amount != 5 {
		t.Fatalf("later run's state %+v", s)
	}
	if dls, err := e.DeadLetters("orders", ""); err != nil || len(dls) != 1 || dls[0].ID != "bad" || string(dls[0].Payload) != `[]` {
		t.Fatalf("dead letters after the restart: %+v, %v", dls, err)
	}
	if d := effects.dups(); len(d) > 0 {
		t.Fatalf("steps ran twice: %v", d)
	}
}

// Engines sharing an inbox each expire what they know of it: an expiry that
// finds the message claimed by another engine takes the claim (and its
// later expiry) instead, and the message expires once, from its claim.
func TestInboxExpiryAcrossEngines(t *testing.T) {
	st := store.NewMemory()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	newIn := func() *inbox {
		e, err := New(Options{Store: st, Clock: clock, InboxRetention: 2 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.in.stop)
		return e.in
	}
	a, b := newIn(), newIn()
	ctx := context.Background()
	if err := a.receive(ctx, Message{ID: "m", Topic: "t", Event: "e", Payload: json.RawMessage(`{"correlation_id":"c"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := b.load(ctx); err != nil {
		t.Fatal(err)
	}
	a.start()
	b.start()
	// Each expiry loop reads the clock, then arms its timer: advancing in
	// between would arm a's an hour late, past the resync this test waits
	// for. Both timers are armed (for the arrival's expiry) first.
	clock.BlockUntil(2)
	clock.Advance(time.Hour)
	got, err := b.take(ctx, &takeReq{key: "r/A", topic: "t", event: "e", correlated: true, value: "c"}, func() error { return errSubscribed })
	if err != nil || got.ID != "m" {
		t.Fatalf("take: %+v, %v", got, err)
	}
	k := store.MessageKey{Topic: "t", Event: "e", ID: "m"}
	state := func(in *inbox) (msgState, string, time.Time, bool) {
		in.mu.Lock()
		defer in.mu.Unlock()
		m := in.msgs[k]
		if m == nil {
			return 0, "", time.Time{}, false
		}
		return m.state, m.by, m.expires, true
	}
	// Two hours after its arrival, a (which saw it pending) finds it
	// claimed. The clock stops there: moved on in the loop, it could pass
	// the claim's own expiry before a's expiry loop ran, and a would go
	// from pending to gone with nothing to see in between.
	clock.Advance(time.Hour)
	waitFor(t, "a resynced", func() bool {
		s, by, _, _ := state(a)
		return s == msgClaimed && by == "r/A"
	})
	if _, _, exp, _ := state(a); !exp.Equal(time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("a's expiry %v, want two hours after the claim", exp)
	}
	if m, ok, _ := st.GetMessage(k); !ok || m.ClaimedBy != "r/A" {
		t.Fatalf("the claimed message expired from its arrival: %+v, %v", m, ok)
	}
	waitFor(t, "expired on both", func() bool {
		clock.Advance(time.Minute)
		_, _, _, inA := state(a)
		_, _, _, inB := state(b)
		return !inA && !inB
	})
	if _, ok, _ := st.GetMessage(k); ok {
		t.Fatal("the message is still in the store")
	}
}

// A claim given back (release) makes the message pending again, for
// another await; a message claimed for a key is handed to that key again
// and to no other.
func TestInboxClaimReleaseRetake(t *testing.T) {
	st := store.NewMemory()
	e, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	in := e.in
	ctx := context.Background()
	if err := in.receive(ctx, Message{ID: "m", Topic: "t", Event: "e", Payload: json.RawMessage(`{"order":{"id":"o-1"}}`)}); err != nil {
		t.Fatal(err)
	}
	none := func() error { return errSubscribed }
	req := func(key, field, value string) *takeReq {
		return &takeReq{key: key, topic: "t", event: "e", correlated: true, field: field, value: value}
	}
	if _, err := in.take(ctx, req("r1/A", "", "o-1"), none); err != errSubscribed {
		t.Fatalf("correlation_id is not there: %v", err)
	}
	got, err := in.take(ctx, req("r1/A", "order.id", "o-1"), none)
	if err != nil || got.ID != "m" {
		t.Fatalf("take by path: %+v, %v", got, err)
	}
	if _, err := in.take(ctx, req("r2/A", "order.id", "o-1"), none); err != errSubscribed {
		t.Fatalf("a claimed message went to another key: %v", err)
	}
	if again, err := in.take(ctx, req("r1/A", "order.id", "o-1"), none); err != nil || string(again.Payload) != string(got.Payload) {
		t.Fatalf("handed again: %+v, %v", again, err)
	}
	if err := in.release(ctx, "r1/A"); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := st.GetMessage(got.Key()); m.State != store.MessagePending {
		t.Fatalf("after release: %+v", m)
	}
	if got, err := in.take(ctx, req("r2/A", "order.id", "o-1"), none); err != nil || got.ID != "m" {
		t.Fatalf("take after release: %+v, %v", got, err)
	}
	if m, _, _ := st.GetMessage(got.Key()); m.ClaimedBy != "r2/A" {
		t.Fatalf("claimed by %q, want r2/A", m.ClaimedBy)
	}
}

// An event whose payload is not JSON, which PublishEvent refuses (400)
// but a broker may bring (another publisher on NATS), is dead-lettered
// with that reason: an await that takes any payload of its event took it
// before, recorded it, and the run then stopped, "running" for ever with
// nothing in the log. The run waits on and takes the next event.
func TestNonJSONBrokerEventDeadLettered(t *testing.T) {
	broker := NewMemoryBroker()
	st := store.NewMemory()
	e, err := New(Options{Store: st, Broker: broker})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.LoadFlows("w.json", []byte(`{"version": 1, "flows": [{"name": "W", "state": "WState",
  "triggers": [{"kind": "rpc", "endpoint": "w"}],
  "steps": [{"name": "Wait", "action": {"kind": "await", "topic": "t", "event": "e", "response": "Got", "timeout": "1h"},
    "on": [{"on": "ok", "target": "done"}]}]}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	id, err := e.StartRun(context.Background(), "W", json.RawMessage(`{}`), "w-1")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	publishRaw(t, broker, "bad", "t", "e", `not json`)
	waitFor(t, "the payload that is not JSON dead-lettered", func() bool {
		ms, _ := st.Messages(store.MessageFilter{State: store.MessageDead})
		return len(ms) == 1 && strings.Contains(ms[0].Reason, "not valid JSON")
	})
	if s, _ := e.Status(context.Background(), id); s.State != runtime.StateWaiting {
		t.Fatalf("after the payload that is not JSON: %s, want waiting", s.State)
	}
	publishRaw(t, broker, "good", "t", "e", `{"amount": 3}`)
	waitFor(t, "run done", func() bool {
		s, _ := e.Status(context.Background(), id)
		return s.State == runtime.StateDone
	})
}
