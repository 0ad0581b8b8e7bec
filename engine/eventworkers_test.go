package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// barrier lets n callers through together: each waits until n are
// waiting; it fails (false) if they do not all come within the patience.
type barrier struct {
	n    int
	mu   sync.Mutex
	in   int
	open chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, open: make(chan struct{})} }

func (b *barrier) wait() bool {
	b.mu.Lock()
	b.in++
	if b.in == b.n {
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
		return true
	case <-time.After(20 * time.Second):
		return false
	}
}

// A group of n consumers sharing a name has up to n messages in flight at
// once, acknowledged in any order; everything is released once all are
// acknowledged. (One group member used to deliver for the whole group, one
// message at a time.)
func TestMemoryBrokerGroupDeliversConcurrently(t *testing.T) {
	b := NewMemoryBroker()
	const n = 4
	bar := newBarrier(n)
	var delivered, failedOnce atomic.Int64
	seen := sync.Map{}
	for range n {
		stop, err := b.Consume(context.Background(), "g", "t", "e", func(_ context.Context, m Message) error {
			if !bar.wait() {
				return errors.New("not all in flight together")
			}
			// The first delivery of message 0 fails: it is retried while
			// later offsets are acknowledged.
			if m.ID == "m0" && failedOnce.CompareAndSwap(0, 1) {
				return errors.New("once")
			}
			if _, dup := seen.LoadOrStore(m.ID, true); dup {
				t.Errorf("message %s acknowledged twice", m.ID)
			}
			delivered.Add(1)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	for i := range n {
		if err := b.Publish(context.Background(), Message{ID: fmt.Sprintf("m%d", i), Topic: "t", Event: "e"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all delivered", func() bool { return delivered.Load() == n })
	waitFor(t, "all released", func() bool { return b.Stats().Held == 0 })
}

// A member that stops while its delivery fails hands the message back to
// the group: another member delivers it.
func TestMemoryBrokerStoppedMemberHandsBack(t *testing.T) {
	b := NewMemoryBroker()
	tried := make(chan struct{}, 1)
	stopBad, _ := b.Consume(context.Background(), "g", "t", "e", func(context.Context, Message) error {
		select {
		case tried <- struct{}{}:
		default:
		}
		return errors.New("down")
	})
	if err := b.Publish(context.Background(), Message{ID: "x", Topic: "t", Event: "e"}); err != nil {
		t.Fatal(err)
	}
	<-tried
	var got atomic.Value
	stopGood, _ := b.Consume(context.Background(), "g", "t", "e", func(_ context.Context, m Message) error {
		got.Store(m.ID)
		return nil
	})
	defer stopGood()
	stopBad()
	waitFor(t, "the message delivered by the other member", func() bool { v, _ := got.Load().(string); return v == "x" })
	waitFor(t, "released", func() bool { return b.Stats().Held == 0 })
}

// startGate is a store whose first event of a run (a run's start) waits
// until n of them are being recorded at once.
type startGate struct {
	*store.Memory
	bar *barrier
}

func (s *startGate) Emit(ctx context.Context, ev runtime.Event) error {
	if ev.Seq == 1 && ev.Flow == "Ev" && !s.bar.wait() {
		return errors.New("the event trigger's runs were not started together")
	}
	return s.Memory.Emit(ctx, ev)
}

// The runs an event trigger starts from broker events are started
// Options.EventWorkers at a time: their first events are recorded
// together (and so share the store's group commits), where one consumer
// used to start one run after another.
func TestEventTriggerStartsRunsConcurrently(t *testing.T) {
	const workers = 4
	st := &startGate{Memory: store.NewMemory(), bar: newBarrier(workers)}
	broker := NewMemoryBroker()
	e, err := New(Options{Store: st, Inbox: st.Memory, Broker: broker, EventWorkers: workers, ID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int64
	e.Registry().Step("Counted", func(context.Context, *State) (string, error) { ran.Add(1); return "", nil })
	if ds, err := e.LoadFlows("ev.json", []byte(`{"version": 1, "flows": [
 {"name": "Ev", "triggers": [{"kind": "event", "topic": "ev", "event": "start"}],
  "steps": [{"name": "Counted", "action": {"kind": "go"}, "irreversible": true}]}]}`)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	}()
	for i := range workers {
		if err := broker.Publish(context.Background(), Message{ID: fmt.Sprintf("ev-%d", i), Topic: "ev", Event: "start", Payload: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every event's run", func() bool { return ran.Load() == workers })
	for i := range workers {
		if _, ok := st.Get(EventRunID("Ev", "ev", "start", fmt.Sprintf("ev-%d", i))); !ok {
			t.Fatalf("no run for event ev-%d", i)
		}
	}
	waitFor(t, "the broker released the events", func() bool { return broker.Stats().Held == 0 })
}

// consumeCounter counts the consumers registered under each name.
type consumeCounter struct {
	*MemoryBroker
	mu    sync.Mutex
	names map[string]int
}

func (c *consumeCounter) Consume(ctx context.Context, name, topic, event string, h func(context.Context, Message) error) (func(), error) {
	c.mu.Lock()
	c.names[name]++
	c.mu.Unlock()
	return c.MemoryBroker.Consume(ctx, name, topic, event, h)
}

// An event trigger has no more consumers than the runs that may be in
// flight: one more could only be refused. Before, EventWorkers consumers
// were registered whatever MaxRunning said, each with its goroutine, so a
// mistyped flowgen serve -event-workers 1000000 took gigabytes at start.
func TestEventWorkersAtMostMaxRunning(t *testing.T) {
	broker := &consumeCounter{MemoryBroker: NewMemoryBroker(), names: map[string]int{}}
	st := store.NewMemory()
	e, err := New(Options{Store: st, Broker: broker, EventWorkers: 1000, MaxRunning: 3, ID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Counted", func(context.Context, *State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("ev.json", []byte(`{"version": 1, "flows": [
 {"name": "Ev", "triggers": [{"kind": "event", "topic": "ev", "event": "start"}],
  "steps": [{"name": "Counted", "action": {"kind": "go"}, "irreversible": true}]}]}`)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	}()
	broker.mu.Lock()
	got := broker.names["trigger-Ev"]
	broker.mu.Unlock()
	if got != 3 {
		t.Errorf("the event trigger has %d consumers; want 3, MaxRunning", got)
	}
}
