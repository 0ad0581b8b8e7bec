// Package brokertest checks an engine.BatchBroker against the contract of
// ConsumeBatch: the engine's in-process broker and natsbus run it, and so
// can a broker of one's own.
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowgen/flowgen/engine"
)

// Batches checks, on brokers made by newBroker (each test its own, with
// nothing published yet), that ConsumeBatch delivers a consumer of one
// every message in order in batches of at most max, gives a failed batch
// again before what follows it, and hands what a stopped consumer held to
// another consumer of its name; and that the stop of a consumer, of
// Consume or ConsumeBatch, returns only once its handler has (StopWaits:
// a broker whose stop returns at once fails it most of the time, not
// always, as the test cannot see stop waiting; the engine's in-process
// broker has a test that can, in a synctest bubble). And that a message is
// its topic, event and ID (IDsByTopic): one ID published on two topics, or
// two events of one topic, is two messages, each delivered with its ID.
func Batches(t *testing.T, newBroker func(t *testing.T) engine.BatchBroker) {
	t.Run("Order", func(t *testing.T) { order(t, newBroker(t)) })
	t.Run("IDsByTopic", func(t *testing.T) { idsByTopic(t, newBroker(t)) })
	t.Run("StopHandsBack", func(t *testing.T) { stopHandsBack(t, newBroker(t)) })
	t.Run("StopWaits", func(t *testing.T) {
		t.Run("Consume", func(t *testing.T) { stopWaits(t, newBroker(t), false) })
		t.Run("ConsumeBatch", func(t *testing.T) { stopWaits(t, newBroker(t), true) })
	})
}

func publish(t *testing.T, b engine.Broker, topic string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		m := engine.Message{ID: fmt.Sprint("m", i), Topic: topic, Event: "e", Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))}
		if err := b.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

// IDs are the IDs of ms, in order.
func IDs(ms []engine.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// waitFor waits for cond; when it gives up, it says what state says, if
// given.
func waitFor(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if state != nil {
				t.Fatalf("gave up waiting for %s: %s", what, state())
			}
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var errRefused = errors.New("brokertest: refused")

func order(t *testing.T, b engine.BatchBroker) {
	const n, size = 300, 16
	var mu sync.Mutex
	var applied []string      // each message once, as first applied
	seen := map[string]bool{} // the messages in applied
	var failedOnce []string   // the batch refused, as delivered
	var retried []string      // the delivery after it
	refusals, largest := 0, 0
	// The first delivery waits until the first half is published, so that
	// messages queue behind it and the next delivery is a batch.
	published := make(chan struct{})
	first := true
	stop, err := b.ConsumeBatch(context.Background(), "c", "order", "e", size, func(_ context.Context, ms []engine.Message) error {
		if first {
			first = false
			<-published
		}
		mu.Lock()
		defer mu.Unlock()
		if len(ms) == 0 || len(ms) > size {
			t.Errorf("a batch of %d messages, at most %d asked", len(ms), size)
		}
		largest = max(largest, len(ms))
		got := IDs(ms)
		switch {
		case failedOnce != nil && retried == nil:
			retried = got
		case refusals < 2 && slices.Contains(got, "m150"):
			refusals++
			if refusals == 1 {
				failedOnce = got
			}
			return errRefused
		}
		// Delivery is at least once: a message the broker delivers again
		// after applying it (its ack lost, or late past AckWait on a slow
		// machine) is a duplicate the engine's inbox drops, not a fault.
		// The order is that of first applications.
		for _, id := range got {
			if !seen[id] {
				seen[id] = true
				applied = append(applied, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	publish(t, b, "order", 0, n/2)
	close(published)
	waitFor(t, "the first half applied", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(applied) >= 140
	}, nil)
	publish(t, b, "order", n/2, n)
	waitFor(t, "every message applied", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(applied) >= n
	}, func() string {
		// What was applied, for a failure that only a loaded machine
		// shows (natsbus, once in CI): where the deliveries stopped.
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("%d applied, the last %v; refused %d times, the refused batch %v, then %v",
			len(applied), applied[max(0, len(applied)-5):], refusals, failedOnce, retried)
	})
	mu.Lock()
	defer mu.Unlock()
	for i, id := range applied {
		if want := fmt.Sprint("m", i); id != want {
			t.Fatalf("message %d applied is %s, want %s (applied %v)", i, id, want, applied)
		}
	}
	if len(applied) != n {
		t.Fatalf("%d messages applied, want %d", len(applied), n)
	}
	if largest < 2 {
		t.Errorf("every delivery held one message, with %d queued behind the first", n/2-1)
	}
	if failedOnce == nil || len(retried) == 0 || retried[0] != failedOnce[0] {
		t.Fatalf("the refused batch %v was followed by %v: not delivered again first", failedOnce, retried)
	}
}

// idsByTopic: an ID is the publisher's within a topic and event (the
// engine's inbox and docs/engine.md: "A message is its topic, event and
// ID"), so the same ID on another topic or event is another message, not a
// duplicate to drop. (natsbus published the ID as JetStream's Nats-Msg-Id,
// whose duplicate window is the whole stream's: the second was dropped.)
func idsByTopic(t *testing.T, b engine.BatchBroker) {
	pairs := [][2]string{{"bytopic-a", "e"}, {"bytopic-b", "e"}, {"bytopic-a", "f"}}
	var mu sync.Mutex
	got := map[[2]string][]string{}
	for _, p := range pairs {
		stop, err := b.ConsumeBatch(context.Background(), "c", p[0], p[1], 8, func(_ context.Context, ms []engine.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range ms {
				if !slices.Contains(got[p], m.ID) {
					got[p] = append(got[p], m.ID)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	for _, p := range pairs {
		m := engine.Message{ID: "same-id", Topic: p[0], Event: p[1], Payload: []byte(`{}`)}
		if err := b.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the message of each topic and event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range pairs {
			if len(got[p]) == 0 {
				return false
			}
		}
		return true
	}, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("delivered: %v", got)
	})
	mu.Lock()
	defer mu.Unlock()
	for _, p := range pairs {
		if !slices.Equal(got[p], []string{"same-id"}) {
			t.Errorf("%s %s: delivered IDs %v, want [same-id]", p[0], p[1], got[p])
		}
	}
}

func stopHandsBack(t *testing.T, b engine.BatchBroker) {
	const n = 40
	holding := make(chan struct{})
	var once sync.Once
	stopA, err := b.ConsumeBatch(context.Background(), "c", "handback", "e", 8, func(context.Context, []engine.Message) error {
		once.Do(func() { close(holding) })
		return errRefused // A can apply nothing
	})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, b, "handback", 0, n)
	<-holding
	var mu sync.Mutex
	seen := map[string]bool{}
	stopB, err := b.ConsumeBatch(context.Background(), "c", "handback", "e", 8, func(_ context.Context, ms []engine.Message) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range ms {
			seen[m.ID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopB()
	stopA()
	waitFor(t, "every message at the consumer left", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	}, nil)
}

// consume registers a consumer of topic/e under "c", with Consume or
// ConsumeBatch (batch), whose handler runs h.
func consume(t *testing.T, b engine.BatchBroker, batch bool, topic string, h func() error) (stop func()) {
	t.Helper()
	var err error
	if batch {
		stop, err = b.ConsumeBatch(context.Background(), "c", topic, "e", 4, func(context.Context, []engine.Message) error { return h() })
	} else {
		stop, err = b.Consume(context.Background(), "c", topic, "e", func(context.Context, engine.Message) error { return h() })
	}
	if err != nil {
		t.Fatal(err)
	}
	return stop
}

// heldHandler is a handler whose first call waits for release.
type heldHandler struct {
	once             sync.Once
	entered, release chan struct{}
	returned         atomic.Bool
}

func newHeldHandler() *heldHandler {
	return &heldHandler{entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *heldHandler) handle() error {
	first := false
	h.once.Do(func() { first = true })
	if first {
		close(h.entered)
		<-h.release
		h.returned.Store(true)
	}
	return nil
}

// stopWaits: a consumer's stop, called while its handler runs, returns
// after the handler has returned (engine.Broker's contract: the engine
// closes the store once its consumers are stopped).
func stopWaits(t *testing.T, b engine.BatchBroker, batch bool) {
	h := newHeldHandler()
	stop := consume(t, b, batch, "stopwaits", h.handle)
	publish(t, b, "stopwaits", 0, 1)
	<-h.entered
	calling := make(chan struct{})
	stopped := make(chan bool)
	go func() {
		close(calling)
		stop()
		stopped <- h.returned.Load()
	}()
	<-calling
	close(h.release)
	if !<-stopped {
		t.Fatal("stop returned while the handler was still running")
	}
}

// StopWaitsInBubble checks, in a synctest bubble, that a consumer's stop
// (of Consume and of ConsumeBatch) does not return while its handler runs,
// and returns once it has: synctest.Wait says when stop, if it has not
// returned, waits. Only for a broker whose goroutines block on nothing
// outside the bubble (the engine's in-process broker; not one that waits
// on the network), made by newBroker inside the bubble.
func StopWaitsInBubble(t *testing.T, newBroker func(t *testing.T) engine.BatchBroker) {
	for _, batch := range []bool{false, true} {
		t.Run(map[bool]string{false: "Consume", true: "ConsumeBatch"}[batch], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBroker(t)
				h := newHeldHandler()
				stop := consume(t, b, batch, "stopwaits", h.handle)
				publish(t, b, "stopwaits", 0, 1)
				<-h.entered
				stopped := make(chan bool)
				go func() {
					stop()
					stopped <- h.returned.Load()
				}()
				synctest.Wait()
				select {
				case <-stopped:
					t.Error("stop returned while the handler was still running")
					close(h.release) // let it end within the bubble
					return
				default:
				}
				close(h.release)
				if !<-stopped {
					t.Error("stop returned before the handler did")
				}
			})
		})
	}
}
