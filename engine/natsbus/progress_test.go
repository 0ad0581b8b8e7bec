package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine"
)

// A batch its handler keeps failing (the inbox full) is held, and JetStream
// told it is in progress so that it does not deliver it again: as often as
// AckWait needs (a third of it), not at every try of the handler. Before,
// each try (every Redeliver, 100ms by default) sent a notice for each
// message held: 64 held sent 640 a second. The batch is not delivered
// again meanwhile, and applied once the handler takes it.
func TestHeldBatchInProgressFollowsAckWait(t *testing.T) {
	const max = 4
	s := startServer(t, t.TempDir())
	ackWait := time.Second
	b := connectWith(t, s, Options{Redeliver: 10 * time.Millisecond, AckWait: ackWait})
	ctx := context.Background()
	ensureConsumer(t, b, "held", "t", "h")
	// The notices are published to the messages' reply subjects, which
	// any client may read.
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var notices atomic.Int64
	sub, err := nc.Subscribe("$JS.ACK.>", func(m *nats.Msg) {
		if string(m.Data) == "+WPI" {
			notices.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// One message: the batch forms from what has been pulled when its
	// first message comes, so more could make a batch of one with the
	// others pulled behind it, which get no notices (the batch held does)
	// and are delivered again after AckWait (a fresh-clone CI run formed
	// a batch so).
	for i := range 1 {
		if err := b.Publish(ctx, engine.Message{ID: fmt.Sprint(i), Topic: "t", Event: "h", Payload: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		calls   int // the handler's, one at a time
		first   []string
		elapsed time.Duration
	)
	applied := make(chan struct{})
	start := time.Now()
	stop, err := b.ConsumeBatch(ctx, "held", "t", "h", max, func(_ context.Context, ms []engine.Message) error {
		calls++
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		switch {
		case calls == 1:
			first = ids
		case elapsed == 0 && fmt.Sprint(ids) != fmt.Sprint(first):
			t.Errorf("try %d of the batch %v got %v: the batch held changed", calls, first, ids)
		}
		if elapsed != 0 {
			return nil // the messages behind the batch
		}
		// Held past twice AckWait: without its notices, JetStream would
		// have delivered it again.
		if time.Since(start) < 2*ackWait {
			return errors.New("inbox full")
		}
		elapsed = time.Since(start)
		close(applied)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-applied:
	case <-time.After(30 * time.Second):
		t.Fatal("the batch was not applied")
	}
	cons, err := b.js.Consumer(ctx, b.opts.Stream, consumerName("held", b.Subject("t", "h")))
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// Each delivery takes a consumer sequence number: one past the
	// stream's is a message delivered again.
	if info.Delivered.Consumer != info.Delivered.Stream {
		t.Errorf("%d deliveries of %d messages: delivered again while held", info.Delivered.Consumer, info.Delivered.Stream)
	}
	held := int64(len(first))
	// A round of notices at the first failure, then one a third of
	// AckWait: bounded by the time the tries took, however slow the
	// machine, and far below one round a try.
	rounds := elapsed/(ackWait/3) + 1
	if n := notices.Load(); n > int64(rounds)*held {
		t.Fatalf("%d in-progress notices for %d messages held over %d tries in %v, want at most %d rounds (one a third of AckWait %v)", n, held, calls, elapsed, rounds, ackWait)
	}
	if n := notices.Load(); n < held {
		t.Fatalf("%d in-progress notices, want at least one for each of the %d messages held", n, held)
	}
}
