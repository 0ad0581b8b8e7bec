package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// payloadCounter counts the payload bytes the inbox reads from its store.
type payloadCounter struct {
	*store.Memory
	read atomic.Int64
}

func (c *payloadCounter) Messages(f store.MessageFilter) ([]store.Message, error) {
	ms, err := c.Memory.Messages(f)
	for _, m := range ms {
		c.read.Add(int64(len(m.Payload)))
	}
	return ms, err
}

func (c *payloadCounter) GetMessage(k store.MessageKey) (store.Message, bool, error) {
	m, ok, err := c.Memory.GetMessage(k)
	c.read.Add(int64(len(m.Payload)))
	return m, ok, err
}

// At start the inbox reads the payloads of its pending messages only: the
// claimed messages of the retention (a day of every awaited event) and the
// dead letters (a week) were read whole, all at once, before the engine
// served, though the inbox keeps none of their payloads: a start's memory
// grew with the traffic of the retention, not with -inbox-bytes.
func TestInboxLoadReadsPendingPayloadsOnly(t *testing.T) {
	mem := store.NewMemory()
	ctx := context.Background()
	now := time.Now()
	big := json.RawMessage(`"` + strings.Repeat("x", 10<<10) + `"`)
	for i := range 50 {
		m, _, err := mem.PutMessage(ctx, store.Message{Topic: "t", Event: "e", ID: fmt.Sprintf("c-%d", i), Payload: big, Received: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.ClaimMessage(ctx, m.Key(), fmt.Sprintf("key-%d", i), now); err != nil {
			t.Fatal(err)
		}
		if err := mem.DeadLetter(ctx, store.Message{Topic: "t", Event: "e", ID: fmt.Sprintf("d-%d", i), Payload: big, Received: now}, "no", now); err != nil {
			t.Fatal(err)
		}
	}
	pending := json.RawMessage(`{"correlation_id": "k-1"}`)
	if _, _, err := mem.PutMessage(ctx, store.Message{Topic: "t", Event: "e", ID: "p-1", Payload: pending, Received: now}); err != nil {
		t.Fatal(err)
	}
	c := &payloadCounter{Memory: mem}
	e, err := New(Options{Store: mem, Inbox: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	if got := c.read.Load(); got != int64(len(pending)) {
		t.Fatalf("the inbox read %d payload bytes at start, want %d (the pending message's)", got, len(pending))
	}
	// What it loaded is the inbox as it was: the pending message is there
	// for an await, the claimed ones for their keys.
	e.in.mu.Lock()
	defer e.in.mu.Unlock()
	if n := len(e.in.msgs); n != 101 {
		t.Fatalf("inbox holds %d messages, want 101", n)
	}
	if m := e.in.msgs[store.MessageKey{Topic: "t", Event: "e", ID: "p-1"}]; m == nil || m.state != msgPending || string(m.payload) != string(pending) {
		t.Fatalf("pending message loaded as %+v", m)
	}
	if m := e.in.claimed["key-7"]; m == nil || m.k.ID != "c-7" {
		t.Fatalf("claimed message of key-7 loaded as %+v", m)
	}
}
