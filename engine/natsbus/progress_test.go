package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/brokertest"
)

// progressBroker is a broker on a server of its own, with name's consumer
// of t/event (AckWait ackWait, tries every 10ms), and what its consumers
// acknowledged, complete once flush returns: how many acknowledgements of
// a kind ("+WPI", an "in progress" notice; "-NAK", given back), and of
// how many messages (their stream sequences, which a reply subject
// holds: a message given back may be delivered again, with a subject of
// its own, to the pull of a consumer stopping, which gives it back too).
func progressBroker(t *testing.T, name, event string, ackWait time.Duration) (b *Broker, acks func(kind string) (n, messages int64), flush func()) {
	s := startServer(t, t.TempDir())
	b = connectWith(t, s, Options{Redeliver: 10 * time.Millisecond, AckWait: ackWait})
	ensureConsumer(t, b, name, "t", event)
	// The acknowledgements are published to the messages' reply
	// subjects, which any client may read.
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var (
		mu sync.Mutex
		n  = map[string]int64{}
		of = map[string]map[uint64]bool{}
	)
	if _, err := nc.Subscribe("$JS.ACK.>", func(m *nats.Msg) {
		kind := string(m.Data)
		meta, err := (&nats.Msg{Sub: m.Sub, Reply: m.Subject}).Metadata()
		if err != nil {
			t.Errorf("acknowledgement %q on %s: %v", kind, m.Subject, err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		n[kind]++
		if of[kind] == nil {
			of[kind] = map[uint64]bool{}
		}
		of[kind][meta.Sequence.Stream] = true
	}); err != nil {
		t.Fatal(err)
	}
	flush = func() {
		t.Helper()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	return b, func(kind string) (int64, int64) {
		mu.Lock()
		defer mu.Unlock()
		return n[kind], int64(len(of[kind]))
	}, flush
}

// consumerInfo is JetStream's info on name's consumer of t/event.
func consumerInfo(t *testing.T, b *Broker, name, event string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx := context.Background()
	cons, err := b.js.Consumer(ctx, b.opts.Stream, consumerName(name, b.Subject("t", event)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// A batch its handler keeps failing (the inbox full) is held, and JetStream
// told it is in progress so that it does not deliver it again: as often as
// AckWait needs (a third of it), not at every try of the handler. Before,
// each try (every Redeliver, 100ms by default) sent a notice for each
// message held: 64 held sent 640 a second. The batch is not delivered
// again meanwhile, and applied once the handler takes it.
func TestHeldBatchInProgressFollowsAckWait(t *testing.T) {
	const max = 4
	ackWait := time.Second
	b, acks, flush := progressBroker(t, "held", "h", ackWait)
	ctx := context.Background()
	// One message: the batch forms from what has been pulled when its
	// first message comes, so more could make a batch of one with the
	// others pulled behind it, and more notices than this counts
	// (TestHeldBatchKeepsWhatIsBehindInProgress).
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
		ids := brokertest.IDs(ms)
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
	info := consumerInfo(t, b, "held", "h")
	stop()
	flush()
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
	if n, _ := acks("+WPI"); n > int64(rounds)*held {
		t.Fatalf("%d in-progress notices for %d messages held over %d tries in %v, want at most %d rounds (one a third of AckWait %v)", n, held, calls, elapsed, rounds, ackWait)
	}
	if n, _ := acks("+WPI"); n < held {
		t.Fatalf("%d in-progress notices, want at least one for each of the %d messages held", n, held)
	}
}

// The messages pulled behind a held batch are kept in progress with it:
// before, only the batch held got notices, so what waited behind it (a
// batch of 1 formed from a trickle, 3 more pulled after it) was delivered
// again after AckWait, a wasted delivery each. Behind a batch of 1 of 4
// fit 7 (JetStream lets the consumer have 8 delivered and not
// acknowledged), more than a batch: all are kept in progress (at most a
// batch behind, the 3 past it were delivered again), and make the next
// batches, in order.
func TestHeldBatchKeepsWhatIsBehindInProgress(t *testing.T) {
	const max = 4
	for _, more := range []int{3, 2*max - 1} {
		t.Run(fmt.Sprint(more, "_behind"), func(t *testing.T) { testBehindHeldBatch(t, max, more) })
	}
}

func testBehindHeldBatch(t *testing.T, max, more int) {
	ackWait := time.Second
	b, acks, flush := progressBroker(t, "behind", "b", ackWait)
	ctx := context.Background()
	publish := func(i int) {
		t.Helper()
		if err := b.Publish(ctx, engine.Message{ID: fmt.Sprint(i), Topic: "t", Event: "b", Payload: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	publish(0) // alone: the first batch
	var (
		calls     int // the handler's, one at a time
		got       []string
		batches   [][]string
		released  time.Duration
		allClosed bool
	)
	firstCall := make(chan struct{})
	all := make(chan struct{})
	start := time.Now()
	stop, err := b.ConsumeBatch(ctx, "behind", "t", "b", max, func(_ context.Context, ms []engine.Message) error {
		calls++
		ids := brokertest.IDs(ms)
		if calls == 1 {
			close(firstCall)
		}
		// The first batch held past twice AckWait: what is behind it,
		// without notices, was delivered again by then.
		if released == 0 {
			if time.Since(start) < 2*ackWait {
				return errors.New("inbox full")
			}
			released = time.Since(start)
		}
		batches = append(batches, ids)
		got = append(got, ids...)
		if len(got) >= 1+more && !allClosed {
			allClosed = true
			close(all)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	<-firstCall
	for i := 1; i <= more; i++ {
		publish(i)
	}
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		t.Fatalf("the %d messages were not applied", 1+more)
	}
	info := consumerInfo(t, b, "behind", "b")
	stop()
	flush()
	if info.Delivered.Consumer != info.Delivered.Stream {
		t.Errorf("%d deliveries of %d messages: delivered again while behind the batch held", info.Delivered.Consumer, info.Delivered.Stream)
	}
	var want []string
	for i := range 1 + more {
		want = append(want, fmt.Sprint(i))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("applied %v in batches %v, want %v once each, in order", got, batches, want)
	}
	if fmt.Sprint(batches[0]) != "[0]" {
		t.Errorf("first batch %v, want [0] alone: nothing was behind it", batches[0])
	}
	for _, batch := range batches {
		if len(batch) > max {
			t.Errorf("batch %v, more than %d", batch, max)
		}
	}
	// A round of notices at the first failure, then one a third of
	// AckWait, for at most the messages held and behind.
	rounds := released/(ackWait/3) + 1
	if n, _ := acks("+WPI"); n > int64(rounds)*int64(1+more) {
		t.Errorf("%d in-progress notices over %v, want at most %d rounds of %d", n, released, rounds, 1+more)
	}
}

// A consumer stopped while it holds a batch gives back (a negative
// acknowledgement) the batch and what was pulled behind it, so that
// another consumer of the name gets them now, not once AckWait has passed.
func TestStopGivesBackWhatIsBehindHeldBatch(t *testing.T) {
	const max = 4
	const more = 2*max - 1
	b, acks, _ := progressBroker(t, "stop", "s", 3*time.Second)
	ctx := context.Background()
	publishAll := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := b.Publish(ctx, engine.Message{ID: fmt.Sprint(i), Topic: "t", Event: "s", Payload: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publishAll(0, 1)
	firstCall := make(chan struct{})
	var once sync.Once
	stop, err := b.ConsumeBatch(ctx, "stop", "t", "s", max, func(context.Context, []engine.Message) error {
		once.Do(func() { close(firstCall) })
		return errors.New("inbox full")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	<-firstCall
	publishAll(1, 1+more)
	// Each delivery noticed: the batch and all behind it are in hand.
	waitFor(t, "notices for every message", func() bool {
		_, messages := acks("+WPI")
		return messages == 1+more
	})
	stop()
	waitFor(t, "every message given back", func() bool {
		_, messages := acks("-NAK")
		return messages == 1+more
	})
}
