package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// Engines sharing a store (and so its Locker) each need their own ID: the
// broker's consumers of one name share its messages, and two engines of
// one ID, the default, split the awaited events between them, so that a
// run on one waited on while its event went to the other's inbox (3 of 6
// runs never took their payment). The second engine of an ID now fails
// to start, saying why; with their own IDs, every run takes its event.
func TestEnginesSharingAStoreNeedTheirOwnID(t *testing.T) {
	fx := newFixture(t)
	fx.locker = NewLocker()
	a := fx.start()
	defer fx.stop()

	same, err := New(Options{Store: fx.st, Broker: fx.broker, Caller: fx.caller, Clock: fx.clock, ID: fx.id, Locker: fx.locker})
	if err != nil {
		t.Fatal(err)
	}
	if err := same.Start(context.Background()); err == nil || !strings.Contains(err.Error(), `has the ID "test"`) {
		t.Fatalf("a second engine of ID %q on the store: Start %v, want an error that says so", fx.id, err)
	}

	fx2 := *fx
	fx2.id = "other"
	b := fx2.start()
	defer fx2.stop()
	var ids, custs []string
	for i, e := range []*Engine{a, b, a, b, a, b} {
		id, c := startSignup(t, e, "u"+itoa(int64(i)))
		ids, custs = append(ids, id), append(custs, c)
	}
	for i, c := range custs {
		publish(t, fx.broker, "pay-"+itoa(int64(i)), "payments", "payment.succeeded", map[string]any{"correlation_id": c})
	}
	for _, id := range ids {
		waitFor(t, "run "+id+" to take its payment", func() bool { return runState(fx, id) == runtime.StateDone })
	}
}
