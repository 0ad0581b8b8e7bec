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

// claimedThenGated holds each claim of an inbox message after the store
// recorded it, before the inbox hears back: the window between the
// store's claim and the inbox's own.
type claimedThenGated struct {
	InboxStore
	claimed chan struct{}
	gate    chan struct{}
}

func (g *claimedThenGated) ClaimMessage(ctx context.Context, k store.MessageKey, key string, at time.Time) error {
	err := g.InboxStore.ClaimMessage(ctx, k, key, at)
	g.claimed <- struct{}{}
	<-g.gate
	return err
}

// A message dead-lettered (an event trigger's flow can no longer start
// from it) while the inbox claims it for a waiting run stays the run's:
// claim and dead-letter are exclusive, the run takes its payload, and the
// message stays claimed. Before, the store dead-lettered the claimed
// message, the inbox then recorded the claim, and the run took a null
// payload: the message both claimed (in memory) and dead (in the store).
func TestDeadLetterDuringAClaimLeavesItClaimed(t *testing.T) {
	st := store.NewMemory()
	in := &claimedThenGated{InboxStore: st, claimed: make(chan struct{}, 1), gate: make(chan struct{})}
	e := startJSONEngine(t, Options{Store: st, Inbox: in, Broker: NewMemoryBroker(), Clock: runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}, payFlow)
	defer closeEngine(t, e)
	id, err := e.StartRun(context.Background(), "Pay", json.RawMessage(`{"OrderID":"o1"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	msg := Message{ID: "pay-o1", Topic: "payments", Event: "order.paid", Payload: json.RawMessage(`{"correlation_id":"o1","amount":5}`)}
	if _, err := e.PublishEvent(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	<-in.claimed
	if err := e.in.deadLetter(context.Background(), msg, "cannot start flow Other"); err != nil {
		t.Fatal(err)
	}
	close(in.gate)
	waitFor(t, "the run over", func() bool { i, _ := st.Get(id); return i.State.Terminal() })
	s, err := e.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != runtime.StateDone || !strings.Contains(string(s.Snapshot), `"amount":5`) {
		t.Fatalf("the run ended %s, state %s", s.State, s.Snapshot)
	}
	m, ok, err := st.GetMessage(msg.key())
	if err != nil || !ok || m.State != store.MessageClaimed {
		t.Fatalf("the message is %+v (%v, %v), want it claimed", m, ok, err)
	}
	if dead, err := e.DeadLetters("", ""); err != nil || len(dead) != 0 {
		t.Fatalf("dead letters %+v (%v), want none", dead, err)
	}
}
