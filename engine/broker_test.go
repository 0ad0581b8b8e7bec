package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

// bigPayload is a JSON string of about n bytes.
func bigPayload(n int) json.RawMessage {
	return json.RawMessage(`"` + strings.Repeat("x", n) + `"`)
}

// Events on a topic nobody consumes are dropped and counted, not kept:
// 100 events of 900 KB once grew the process by 125 MB, never released.
func TestMemoryBrokerDropsUnconsumedTopics(t *testing.T) {
	b := NewMemoryBroker()
	for range 100 {
		if err := b.Publish(context.Background(), Message{Topic: "nobody", Event: "listens", Payload: bigPayload(900 << 10)}); err != nil {
			t.Fatal(err)
		}
	}
	st := b.Stats()
	if st.Dropped != 100 || st.Held != 0 || st.HeldBytes != 0 {
		t.Fatalf("stats %+v, want 100 dropped and nothing held", st)
	}
	// A consumer registered later gets none of them.
	var got atomic.Int64
	stop, err := b.Consume(context.Background(), "late", "nobody", "listens", func(context.Context, Message) error { got.Add(1); return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := b.Publish(context.Background(), Message{Topic: "nobody", Event: "listens"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message after Consume delivered", func() bool { return got.Load() == 1 })
	if d := b.Stats().Dropped; d != 100 {
		t.Fatalf("dropped %d after a consumer came, want still 100", d)
	}
}

// Dropping the messages of topic/events nobody consumes keeps nothing per
// name beyond a bounded set: the names are the publishers' (POST /events
// takes any), and a client making up a new one per event once grew the
// broker by an entry and the log by a line each, for good.
func TestMemoryBrokerDropsNamesBounded(t *testing.T) {
	var lines atomic.Int64
	b := NewMemoryBrokerWith(MemoryBrokerOptions{Logger: slog.New(countingHandler{&lines})})
	const n = 3 * maxDropWarnings
	for i := range n {
		if err := b.Publish(context.Background(), Message{Topic: fmt.Sprintf("made-up-%d", i), Event: "e"}); err != nil {
			t.Fatal(err)
		}
	}
	// The first names again: logged already.
	for i := range 10 {
		_ = b.Publish(context.Background(), Message{Topic: fmt.Sprintf("made-up-%d", i), Event: "e"})
	}
	b.mu.Lock()
	streams, warned := len(b.streams), len(b.warned)
	b.mu.Unlock()
	if streams != 0 || warned > maxDropWarnings {
		t.Errorf("after %d made-up names: %d streams, %d names remembered; want 0 and at most %d", n, streams, warned, maxDropWarnings)
	}
	if got := lines.Load(); got != maxDropWarnings+1 {
		t.Errorf("%d log lines, want one per name up to %d, and one saying the others are not named", got, maxDropWarnings)
	}
	if d := b.Stats().Dropped; d != n+10 {
		t.Errorf("dropped %d, want %d", d, n+10)
	}
}

// countingHandler is a slog.Handler that counts the records.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// A consumed topic's messages are released once every consumer name has
// acknowledged them; until then they are held, and delivered in order.
func TestMemoryBrokerReleasesAcknowledged(t *testing.T) {
	b := NewMemoryBroker()
	gate := make(chan struct{})
	var fast, slow atomic.Int64
	stopFast, _ := b.Consume(context.Background(), "fast", "t", "e", func(context.Context, Message) error { fast.Add(1); return nil })
	defer stopFast()
	stopSlow, _ := b.Consume(context.Background(), "slow", "t", "e", func(ctx context.Context, m Message) error {
		<-gate
		slow.Add(1)
		return nil
	})
	defer stopSlow()
	const n = 50
	for range n {
		if err := b.Publish(context.Background(), Message{Topic: "t", Event: "e", Payload: bigPayload(100 << 10)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the fast consumer has all", func() bool { return fast.Load() == n })
	if st := b.Stats(); st.Held != n || st.HeldBytes < n*100<<10 {
		t.Fatalf("stats %+v while the slow consumer has none: want all %d held", st, n)
	}
	close(gate)
	waitFor(t, "the slow consumer has all", func() bool { return slow.Load() == n })
	waitFor(t, "all released", func() bool { st := b.Stats(); return st.Held == 0 && st.HeldBytes == 0 })
	if d := b.Stats().Dropped; d != 0 {
		t.Fatalf("dropped %d of a consumed topic", d)
	}
}

// What consumers have not acknowledged is bounded: beyond MaxBytes,
// Publish fails (retryable) and holds nothing more; once the consumer
// catches up, publishing works again.
func TestMemoryBrokerBoundedBacklog(t *testing.T) {
	b := NewMemoryBrokerWith(MemoryBrokerOptions{MaxBytes: 1 << 20})
	gate := make(chan struct{})
	var got atomic.Int64
	stop, _ := b.Consume(context.Background(), "c", "t", "e", func(context.Context, Message) error { <-gate; got.Add(1); return nil })
	defer stop()
	accepted := 0
	for range 40 {
		err := b.Publish(context.Background(), Message{Topic: "t", Event: "e", Payload: bigPayload(100 << 10)})
		if err == nil {
			accepted++
			continue
		}
		if !errors.Is(err, ErrBrokerFull) {
			t.Fatal(err)
		}
	}
	if st := b.Stats(); accepted > 10 || st.HeldBytes > 1<<20 {
		t.Fatalf("accepted %d messages of 100 KB, holding %+v: the bound is 1 MiB", accepted, st)
	}
	close(gate)
	waitFor(t, "consumer caught up", func() bool { return got.Load() == int64(accepted) })
	waitFor(t, "released", func() bool { return b.Stats().Held == 0 })
	if err := b.Publish(context.Background(), Message{Topic: "t", Event: "e", Payload: bigPayload(100 << 10)}); err != nil {
		t.Fatalf("publish after the consumer caught up: %v", err)
	}
}

// A backlog of tiny messages is bounded too: each counts its ID, names
// and BrokerMessageOverhead beside its payload. Counting payloads alone,
// 10,000 events of {} (2 bytes) went into a broker of 64 KiB, and would
// have gone on to some 30 million, gigabytes of memory.
func TestMemoryBrokerBoundsTinyMessages(t *testing.T) {
	b := NewMemoryBrokerWith(MemoryBrokerOptions{MaxBytes: 64 << 10})
	gate := make(chan struct{})
	stop, _ := b.Consume(context.Background(), "c", "t", "e", func(context.Context, Message) error { <-gate; return nil })
	defer stop()
	defer close(gate)
	accepted := 0
	for range 10_000 {
		if err := b.Publish(context.Background(), Message{Topic: "t", Event: "e", Payload: json.RawMessage(`{}`)}); err == nil {
			accepted++
		} else if !errors.Is(err, ErrBrokerFull) {
			t.Fatal(err)
		}
	}
	if max := (64 << 10) / BrokerMessageOverhead; accepted > max {
		t.Fatalf("accepted %d messages of 2 bytes into 64 KiB, want at most %d", accepted, max)
	}
}
