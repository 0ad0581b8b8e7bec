package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// An awaited event the engine accepted (recorded in its inbox) before the
// await's deadline, which the run had not taken yet when the engine went
// down (a kill -9 between the event's acceptance and the run's wake-up:
// the message pending, or claimed for the wait and not recorded taken),
// wakes the run ok when the engine comes back after the deadline: the
// recorded times decide, not which of the expired timer and the inbox the
// resumed run hears first. A 2xx said the event was durable. And the
// reverse: an event received at or after the deadline, while the run had
// not recorded its timeout yet, does not wake it; it stays pending for
// another await. Before, the resumed run's timer, already due, and the
// inbox's delivery raced: the run timed out with the event in the inbox.
func TestAwaitEventReceivedBeforeDeadlineWinsAfterRestart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	deadline := t0.Add(100 * time.Hour) // payFlow's await: timeout 100h
	for _, tc := range []struct {
		name     string
		received time.Time
		claimed  bool // the crash came after the claim, before the wake-up
		done     bool // the run takes the event; else it times out
	}{
		{"pending, received before the deadline", deadline.Add(-time.Minute), false, true},
		{"claimed, received before the deadline", deadline.Add(-time.Minute), true, true},
		{"pending, received at the deadline", deadline, false, false},
		{"pending, received after the deadline", deadline.Add(time.Minute), false, false},
		{"claimed, received after the deadline", deadline.Add(time.Minute), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 20 { // the race it guards against was a scheduling one
				st := store.NewMemory()
				clock := runtime.NewFakeClock(t0)
				opts := Options{Store: st, Broker: NewMemoryBroker(), Clock: clock}
				e := startJSONEngine(t, opts, payFlow)
				id, err := e.StartRun(context.Background(), "Pay", json.RawMessage(`{"OrderID":"o1"}`), "")
				if err != nil {
					t.Fatal(err)
				}
				waitParked(t, e, id)
				closeEngine(t, e)

				// What the engine recorded before it went down.
				k := store.MessageKey{Topic: "payments", Event: "order.paid", ID: "pay-o1"}
				if _, _, err := st.PutMessage(context.Background(), store.Message{Topic: k.Topic, Event: k.Event, ID: k.ID,
					Payload: json.RawMessage(`{"correlation_id":"o1","amount":5}`), Received: tc.received}); err != nil {
					t.Fatal(err)
				}
				if tc.claimed {
					if err := st.ClaimMessage(context.Background(), k, id+"/AwaitPayment", tc.received); err != nil {
						t.Fatal(err)
					}
				}
				clock.Advance(101 * time.Hour) // down over the deadline

				e = startJSONEngine(t, opts, payFlow)
				waitFor(t, "the run over", func() bool { i, _ := st.Get(id); return i.State.Terminal() })
				s, err := e.Status(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if got := s.State == runtime.StateDone; got != tc.done {
					t.Fatalf("try %d: the run ended %s, state %s", i, s.State, s.Snapshot)
				}
				if tc.done && !strings.Contains(string(s.Snapshot), `"amount":5`) {
					t.Fatalf("the run's state %s", s.Snapshot)
				}
				m, ok, err := st.GetMessage(k)
				if err != nil {
					t.Fatal(err)
				}
				if want := store.MessagePending; !tc.done && (!ok || m.State != want) {
					t.Fatalf("try %d: the event received after the deadline is %+v (%v), want it %s", i, m, ok, want)
				}
				closeEngine(t, e)
			}
		})
	}
}

// gatedClaims holds each claim of an inbox message until the test lets it
// go: the store's sync in flight when the await's deadline passes.
type gatedClaims struct {
	InboxStore
	claiming chan struct{}
	gate     chan struct{}
}

func (g *gatedClaims) ClaimMessage(ctx context.Context, k store.MessageKey, key string, at time.Time) error {
	g.claiming <- struct{}{}
	<-g.gate
	return g.InboxStore.ClaimMessage(ctx, k, key, at)
}

// firingClock says when one of its timers fires, as it fires.
type firingClock struct {
	*runtime.FakeClock
	fired chan struct{}
}

func (c firingClock) AfterFunc(d time.Duration, fn func()) func() bool {
	return c.FakeClock.AfterFunc(d, func() {
		select {
		case c.fired <- struct{}{}:
		default:
		}
		fn()
	})
}

// An event accepted (POST /events answered 202) a minute before the
// await's deadline wakes the run ok although the deadline passes while the
// inbox still claims it for the run (the store's sync in flight): the run's
// deadline lets the hand-over in flight finish first (it calls the
// subscription's cancel before it times out). Before, the timer ended the
// wait with the outcome timeout, and the event, claimed a moment later,
// was released: the run failed with its event, accepted in time, in the
// inbox.
func TestAwaitEventAcceptedBeforeDeadlineWhileItsClaimIsInFlight(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 { // the timer and the claim run on goroutines of their own
		st := store.NewMemory()
		clock := firingClock{runtime.NewFakeClock(t0), make(chan struct{}, 1)}
		in := &gatedClaims{InboxStore: st, claiming: make(chan struct{}, 1), gate: make(chan struct{})}
		e := startJSONEngine(t, Options{Store: st, Inbox: in, Broker: NewMemoryBroker(), Clock: clock}, payFlow)
		id, err := e.StartRun(context.Background(), "Pay", json.RawMessage(`{"OrderID":"o1"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		waitParked(t, e, id)
		// The wait is recorded before its timer is armed, and this clock,
		// a wrapper of a FakeClock, arms it after a duration read from an
		// earlier Now: advancing in between would arm it past the
		// deadline, never to fire. Its timer is the only one pending.
		clock.BlockUntil(1)
		clock.Advance(100*time.Hour - time.Minute)
		if _, err := e.PublishEvent(context.Background(), Message{ID: "pay-o1", Topic: "payments", Event: "order.paid",
			Payload: json.RawMessage(`{"correlation_id":"o1","amount":5}`)}); err != nil {
			t.Fatal(err)
		}
		<-in.claiming
		clock.Advance(time.Minute) // the deadline
		<-clock.fired
		close(in.gate)
		waitFor(t, "the run over", func() bool { i, _ := st.Get(id); return i.State.Terminal() })
		if s, _ := e.Status(context.Background(), id); s.State != runtime.StateDone {
			t.Fatalf("try %d: the run ended %s, state %s", i, s.State, s.Snapshot)
		}
		closeEngine(t, e)
	}
}

// gatedPuts holds each store write of inbox messages until the test lets
// it go: an event's receipt under way when the await's deadline passes.
type gatedPuts struct {
	InboxStore
	putting chan struct{}
	gate    chan struct{}
}

func (g *gatedPuts) PutMessages(ctx context.Context, ms []store.Message) ([]store.Message, []bool, error) {
	g.putting <- struct{}{}
	<-g.gate
	return g.InboxStore.PutMessages(ctx, ms)
}

// An event received a minute before the await's deadline (the received
// time the inbox records) wakes the run ok although the deadline passes
// while the store still records it, before the inbox could offer it to
// the wait: the deadline lets receipts under way that were received before
// it land first. Before, the timer ended the wait with the outcome
// timeout, and the event stayed pending with a received time before the
// deadline: the run failed, where a crash just after the write would have
// had it take the event on its resume (the recorded times decide then).
func TestAwaitEventReceivedBeforeDeadlineWhileItsWriteIsInFlight(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 { // the timer and the receipt run on goroutines of their own
		st := store.NewMemory()
		clock := firingClock{runtime.NewFakeClock(t0), make(chan struct{}, 1)}
		in := &gatedPuts{InboxStore: st, putting: make(chan struct{}, 2), gate: make(chan struct{})}
		e := startJSONEngine(t, Options{Store: st, Inbox: in, Broker: NewMemoryBroker(), Clock: clock}, payFlow)
		id, err := e.StartRun(context.Background(), "Pay", json.RawMessage(`{"OrderID":"o1"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		waitParked(t, e, id)
		// The wait is recorded before its timer is armed, and this clock,
		// a wrapper of a FakeClock, arms it after a duration read from an
		// earlier Now: advancing in between would arm it past the
		// deadline, never to fire. Its timer is the only one pending.
		clock.BlockUntil(1)
		clock.Advance(100*time.Hour - time.Minute)
		published := make(chan error, 1)
		go func() {
			_, err := e.PublishEvent(context.Background(), Message{ID: "pay-o1", Topic: "payments", Event: "order.paid",
				Payload: json.RawMessage(`{"correlation_id":"o1","amount":5}`)})
			published <- err
		}()
		// Two receipts: PublishEvent's, and the broker's copy the
		// inbox's consumer brings (the store keeps the first written).
		<-in.putting
		<-in.putting
		clock.Advance(time.Minute) // the deadline
		<-clock.fired
		close(in.gate)
		if err := <-published; err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the run over", func() bool { i, _ := st.Get(id); return i.State.Terminal() })
		if s, _ := e.Status(context.Background(), id); s.State != runtime.StateDone {
			m, _, _ := st.GetMessage(store.MessageKey{Topic: "payments", Event: "order.paid", ID: "pay-o1"})
			h, _ := e.History(context.Background(), id)
			t.Fatalf("try %d: the run ended %s, state %s, message %+v, history %+v", i, s.State, s.Snapshot, m, h)
		}
		closeEngine(t, e)
	}
}
