package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// The inbox holds at most Options.InboxBytes of events for runs to take:
// beyond, an event is refused (429) before anything changes, a retry of an
// event it holds is still answered, and the room comes back as runs take
// their events.
func TestInboxBytesBound(t *testing.T) {
	fx := newFixture(t)
	fx.inboxB = 3*InboxMessageOverhead + 450 // 3 events of some 130 bytes, not 4
	e := fx.start()
	defer fx.stop()
	ann, annCust := startSignup(t, e, "ann") // customer cus-ann-1
	post := func(id, corr string) error {
		p := json.RawMessage(fmt.Sprintf(`{"correlation_id":%q,"pad":%q}`, corr, strings.Repeat("x", 60)))
		_, err := e.PublishEvent(context.Background(), Message{ID: id, Topic: "payments", Event: "payment.succeeded", Payload: p})
		return err
	}
	// Payments for customers whose runs have not started: kept, 3 of
	// about 95 bytes of payload and 32 of key within the bound.
	for i, cust := range []string{"cus-bob-2", "cus-cy-3", "cus-dee-4"} {
		if err := post(fmt.Sprintf("early-%d", i), cust); err != nil {
			t.Fatalf("early payment %d: %v", i, err)
		}
	}
	if err := post("ann-pays", annCust); !errors.Is(err, ErrInboxFull) {
		t.Fatalf("a fourth event: %v, want ErrInboxFull", err)
	}
	if statusOf(ErrInboxFull) != http.StatusTooManyRequests {
		t.Errorf("ErrInboxFull answers %d, want 429", statusOf(ErrInboxFull))
	}
	if ms, _ := fx.st.(*store.Memory).Messages(store.MessageFilter{}); len(ms) != 3 {
		t.Fatalf("the inbox records %d messages, want the 3 accepted: a 429 changes nothing", len(ms))
	}
	if runState(fx, ann) != runtime.StateWaiting {
		t.Fatal("the refused payment reached its run")
	}
	if err := post("early-0", "cus-bob-2"); err != nil {
		t.Fatalf("a retry of an event the inbox holds: %v", err)
	}
	// Bob's run takes his payment: its room comes back.
	bob, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"bob"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's run done", func() bool { return runState(fx, bob) == runtime.StateDone })
	if err := post("ann-pays", annCust); err != nil {
		t.Fatalf("with room again: %v", err)
	}
	waitFor(t, "ann's run done", func() bool { return runState(fx, ann) == runtime.StateDone })
}

// A message held twice at once (POST /events receives the event it also
// publishes, and the broker can bring that copy to the inbox's consumer
// meanwhile) takes its room once; recorded while held, it counts once, in
// bytes; the room comes back when the last holder lets go, not before.
// Counted twice, a 429 answered the next event while the consumer's copy
// was still under way (TestInboxBytesBound failed about once in 300).
func TestInboxHoldsAMessageOnce(t *testing.T) {
	m := Message{Topic: "t", Event: "e", ID: "1", Payload: json.RawMessage(strings.Repeat("x", 100))}
	m2 := Message{Topic: "t", Event: "e", ID: "2", Payload: json.RawMessage(strings.Repeat("y", 200))}
	r1, r2 := room(m.key(), m.Payload), room(m2.key(), m2.Payload)
	in := &inbox{max: r1 + r2, holds: map[store.MessageKey]*heldRoom{}}
	publisher, err := in.hold([]Message{m})
	if err != nil {
		t.Fatal(err)
	}
	consumer, err := in.hold([]Message{m, m})
	if err != nil {
		t.Fatal(err)
	}
	if in.held != r1 {
		t.Fatalf("held %d bytes for one message of %d held three times", in.held, r1)
	}
	in.land(m.key())
	in.bytes += r1 // what setPayload counts as the message is recorded
	if in.held != 0 {
		t.Fatalf("held %d bytes once the message is recorded, want 0", in.held)
	}
	if _, err := in.hold([]Message{m2}); err != nil {
		t.Fatalf("room for the second message beside the first: %v", err)
	}
	publisher()
	consumer()
	if in.held != r2 || len(in.holds) != 1 {
		t.Errorf("after the first message's holders let go: held %d, %d holds; want the second's %d, 1", in.held, len(in.holds), r2)
	}
	in2 := &inbox{max: r1, holds: map[store.MessageKey]*heldRoom{}}
	release, _ := in2.hold([]Message{m})
	release()
	release() // once only
	if in2.held != 0 || len(in2.holds) != 0 {
		t.Errorf("a hold let go of: held %d, %d holds", in2.held, len(in2.holds))
	}
}

// Each event the inbox holds counts its key and InboxMessageOverhead
// beside its payload: a flood of tiny events (POST /events with {}, each a
// new message ID, no run awaiting them yet) is refused once they would
// hold about the bound in memory. Counted by payload alone, 64 KiB let
// 32,768 such events in, each holding some 500 bytes of records and index
// entries for the inbox's retention.
func TestInboxBoundCountsEachMessage(t *testing.T) {
	fx := newFixture(t)
	fx.inboxB = 64 << 10
	e := fx.start()
	defer fx.stop()
	accepted := 0
	for i := range 1000 {
		_, err := e.PublishEvent(context.Background(), Message{ID: fmt.Sprintf("tiny-%d", i), Topic: "payments", Event: "payment.succeeded", Payload: json.RawMessage(`{}`)})
		if errors.Is(err, ErrInboxFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted++
	}
	if most := int(fx.inboxB / InboxMessageOverhead); accepted == 0 || accepted > most {
		t.Fatalf("the inbox took %d events of 2 bytes under a bound of %d bytes, want 1 to %d", accepted, fx.inboxB, most)
	}
	if ms, _ := fx.st.(*store.Memory).Messages(store.MessageFilter{}); len(ms) != accepted {
		t.Errorf("the inbox records %d messages, want the %d accepted: a 429 changes nothing", len(ms), accepted)
	}
}

// A broker's batch of awaited events that is larger, in all, than the
// inbox's bound is received a part at a time, as room comes back: it was
// refused whole, and delivered again whole before the events behind it,
// forever, though the inbox was empty (8 runs waited for 8 events in a
// batch with room for 4, and none came). An event larger alone than the
// bound, which could never be received, is dead-lettered instead, and
// refused by POST /events with 413 (it answered 429, for ever).
func TestInboxBatchBeyondTheBound(t *testing.T) {
	fx := newFixture(t)
	fx.inboxB = 4 * (InboxMessageOverhead + 120)
	e := fx.start()
	defer fx.stop()
	var runs []string
	var batch []Message
	for i := range 8 {
		id, cust := startSignup(t, e, fmt.Sprint("u", i))
		runs = append(runs, id)
		batch = append(batch, Message{ID: fmt.Sprint("pay-", i), Topic: "payments", Event: "payment.succeeded",
			Payload: json.RawMessage(fmt.Sprintf(`{"correlation_id":%q}`, cust))})
	}
	big := Message{ID: "big", Topic: "payments", Event: "payment.succeeded",
		Payload: json.RawMessage(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", int(fx.inboxB))))}
	batch = append(batch[:4], append([]Message{big}, batch[4:]...)...)
	// As a BatchBroker does: the batch again until it is taken.
	waitFor(t, "the batch taken", func() bool {
		err := e.in.receiveAll(context.Background(), batch)
		if err != nil && !errors.Is(err, ErrInboxFull) {
			t.Fatal(err)
		}
		return err == nil
	})
	for _, id := range runs {
		waitFor(t, "run "+id+" done", func() bool { return runState(fx, id) == runtime.StateDone })
	}
	dls, err := e.DeadLetters("payments", "payment.succeeded")
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].ID != "big" || !strings.Contains(dls[0].Reason, "more than all it may hold") {
		t.Fatalf("dead letters %+v, want the event larger than the bound", dls)
	}
	// POST /events of such an event: 413, not a 429 to retry forever.
	big.ID = "big-door"
	if _, err := e.PublishEvent(context.Background(), big); !errors.Is(err, ErrTooLarge) || statusOf(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("POST /events of an event larger than the inbox: %v (%d), want ErrTooLarge, 413", err, statusOf(err))
	}
	if _, ok, _ := fx.st.(*store.Memory).GetMessage(big.key()); ok {
		t.Fatal("the refused event is in the inbox")
	}
}
