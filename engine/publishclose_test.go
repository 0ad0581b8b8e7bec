package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// gateBroker is a MemoryBroker whose Publish of a message whose ID starts
// with "gated" holds it (it is published) and then waits for release
// before it returns: a request in the window between the broker holding
// its event and the rest of its work.
type gateBroker struct {
	*MemoryBroker
	published chan struct{}
	release   chan struct{}
}

func (b *gateBroker) Publish(ctx context.Context, m Message) error {
	if err := b.MemoryBroker.Publish(ctx, m); err != nil {
		return err
	}
	if strings.HasPrefix(m.ID, "gated") {
		b.published <- struct{}{}
		<-b.release
	}
	return nil
}

// An event the broker holds when Close starts is applied, and answered as
// applied: its run's first event is in the store, or it is in the inbox,
// before PublishEvent returns nil, and Close returns only after that (its
// caller then closes the store). It answered ErrClosed (503) after the
// publication: the client saw a failure, and the event was published,
// leaving the run it starts to nobody (the trigger consumers leave a
// publisher's runs to it, Message.Triggered).
func TestPublishEventAcrossClose(t *testing.T) {
	for _, tc := range []struct{ topic, event, payload string }{
		{"accounts", "signup.requested", `{"Customer": {"Email": "a@example.com"}}`}, // starts a run
		{"payments", "payment.succeeded", `{"CustomerID": "nobody"}`},                // into the inbox
	} {
		t.Run(tc.event, func(t *testing.T) {
			fx := newFixture(t)
			mem := store.NewMemory()
			fx.st = mem
			gb := &gateBroker{MemoryBroker: NewMemoryBroker(), published: make(chan struct{}), release: make(chan struct{})}
			fx.broker = gb
			e := fx.start()
			m := Message{Topic: tc.topic, Event: tc.event, ID: "gated-1", Payload: json.RawMessage(tc.payload)}
			type answer struct {
				p   Published
				err error
			}
			published := make(chan answer, 1)
			go func() {
				p, err := e.PublishEvent(context.Background(), m)
				published <- answer{p, err}
			}()
			<-gb.published // the broker holds it
			closed := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				closed <- e.Close(ctx)
			}()
			waitFor(t, "Close to drain", e.draining.Load)
			close(gb.release)
			a := <-published
			if a.err != nil {
				t.Fatalf("PublishEvent after the broker held the event, Close started meanwhile: %v (the event is published)", a.err)
			}
			// Answered: what it answered is durable now, before Close
			// has returned (its caller closes the store then).
			for _, r := range a.p.Runs {
				if _, ok := mem.Get(r.RunID); !ok {
					t.Errorf("answered run %s of flow %s, which the store does not hold", r.RunID, r.Flow)
				}
			}
			if tc.topic == "accounts" && len(a.p.Runs) != 1 {
				t.Errorf("runs %+v, want the Signup run", a.p.Runs)
			}
			if a.p.Inbox {
				if _, ok, err := mem.GetMessage(m.key()); !ok || err != nil {
					t.Errorf("answered the event in the inbox, which does not hold it: %v", err)
				}
			}
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
		})
	}
}
