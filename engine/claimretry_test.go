package engine

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// failingClaims fails the first n claims of inbox messages, as a store
// whose write failed for a moment.
type failingClaims struct {
	InboxStore
	n      atomic.Int32
	failed chan struct{}
}

var errClaimFault = errors.New("test: the store failed")

func (f *failingClaims) ClaimMessage(ctx context.Context, k store.MessageKey, key string, at time.Time) error {
	if f.n.Add(-1) >= 0 {
		f.failed <- struct{}{}
		return errClaimFault
	}
	return f.InboxStore.ClaimMessage(ctx, k, key, at)
}

// An awaited event offered to its waiting run, whose claim the store
// fails, is offered to the run again once the store answers: the run
// takes it (after AwaitRetry, then twice as long). Before, the event went
// back to pending and the run back to waiting, and nothing offered it
// again: the run waited until its timeout (100 hours here), with its
// event in the inbox.
func TestAwaitEventOfferedAgainAfterAFailedClaim(t *testing.T) {
	st := store.NewMemory()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	in := &failingClaims{InboxStore: st, failed: make(chan struct{}, 2)}
	in.n.Store(2)
	e := startJSONEngine(t, Options{Store: st, Inbox: in, Broker: NewMemoryBroker(), Clock: clock}, payFlow)
	defer closeEngine(t, e)
	id, err := e.StartRun(context.Background(), "Pay", json.RawMessage(`{"OrderID":"o1"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	if _, err := e.PublishEvent(context.Background(), Message{ID: "pay-o1", Topic: "payments", Event: "order.paid",
		Payload: json.RawMessage(`{"correlation_id":"o1","amount":5}`)}); err != nil {
		t.Fatal(err)
	}
	<-in.failed
	// Well within the await's timeout: the retries' time, not its.
	waitFor(t, "the run over", func() bool {
		clock.Advance(time.Second)
		i, _ := st.Get(id)
		return i.State.Terminal()
	})
	if s, _ := e.Status(context.Background(), id); s.State != runtime.StateDone {
		t.Fatalf("the run ended %s, state %s", s.State, s.Snapshot)
	}
	if got := len(in.failed); got != 1 {
		t.Fatalf("%d more failed claims, want 1", got)
	}
	if elapsed := clock.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); elapsed > time.Hour {
		t.Fatalf("the run took its event %s after the start", elapsed)
	}
}
