package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/flowgen/flowgen/engine"
)

// A batch consumer holds the batch its handler applies and at most one
// batch more (docs/engine.md#limits: the inbox's batches, "natsbus pulls
// at most that many ahead"), however far behind it is. Before, with the
// buffer full, the pull loop fetched a third batch and held it: 192
// messages delivered and unacknowledged for batches of 64, each up to the
// server's max_payload.
//
// Batches of one: a batch is what the buffer has when the handler is
// free, so that with batches of 64 the test waited for a full one, which
// under load never came (every batch short, the test hung: 1 run in 244);
// a batch of one is always full.
func TestConsumeBatchPullsOneBatchAhead(t *testing.T) {
	const max = 1
	s := startServer(t, t.TempDir())
	b := connect(t, s)
	ctx := context.Background()
	ensureConsumer(t, b, "batch", "t", "b")
	for i := range 8 * max {
		if err := b.Publish(ctx, engine.Message{ID: fmt.Sprint(i), Topic: "t", Event: "b", Payload: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	block := make(chan struct{})
	blocked := make(chan struct{})
	held := false
	// The handler holds the first batch: the buffer behind it fills, and
	// the pull loop is free to fetch more.
	stop, err := b.ConsumeBatch(ctx, "batch", "t", "b", max, func(_ context.Context, ms []engine.Message) error {
		if !held {
			held = true
			close(blocked)
			<-block
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-blocked
	cons, err := b.js.Consumer(ctx, b.opts.Stream, consumerName("batch", b.Subject("t", "b")))
	if err != nil {
		t.Fatal(err)
	}
	// The loop ends up either waiting at JetStream with a request (no
	// room) or holding messages it fetched, blocked on the full buffer.
	var pending int
	waitFor(t, "the pull loop to stop taking messages", func() bool {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pending = info.NumAckPending
		return info.NumWaiting > 0 || pending > 2*max
	})
	close(block)
	stop()
	if pending > 2*max {
		t.Fatalf("%d messages delivered and not acknowledged; want at most %d (the batch applied and one ahead)", pending, 2*max)
	}
}
