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

// The inbox holds at most Options.InboxBytes of payloads for runs to take:
// beyond, an event is refused (429) before anything changes, a retry of an
// event it holds is still answered, and the room comes back as runs take
// their events.
func TestInboxBytesBound(t *testing.T) {
	fx := newFixture(t)
	fx.inboxB = 300
	e := fx.start()
	defer fx.stop()
	ann, annCust := startSignup(t, e, "ann") // customer cus-ann-1
	post := func(id, corr string) error {
		p := json.RawMessage(fmt.Sprintf(`{"correlation_id":%q,"pad":%q}`, corr, strings.Repeat("x", 60)))
		_, err := e.PublishEvent(context.Background(), Message{ID: id, Topic: "payments", Event: "payment.succeeded", Payload: p})
		return err
	}
	// Payments for customers whose runs have not started: kept, 3 of
	// about 95 bytes within 300.
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
