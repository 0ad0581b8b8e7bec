package engine

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/runtime/store"
)

// orderBroker records the consumer names in the order they are registered.
type orderBroker struct {
	*MemoryBroker
	mu    sync.Mutex
	names []string
}

func (b *orderBroker) Consume(ctx context.Context, name, topic, event string, h func(context.Context, Message) error) (func(), error) {
	b.mu.Lock()
	b.names = append(b.names, name)
	b.mu.Unlock()
	return b.MemoryBroker.Consume(ctx, name, topic, event, h)
}

func (b *orderBroker) ConsumeBatch(ctx context.Context, name, topic, event string, max int, h func(context.Context, []Message) error) (func(), error) {
	b.mu.Lock()
	b.names = append(b.names, name)
	b.mu.Unlock()
	return b.MemoryBroker.ConsumeBatch(ctx, name, topic, event, max, h)
}

// A flow's await consumers are registered before its event triggers': a
// run a trigger starts may wait at once, and a broker consumer created
// later starts at the messages published after it (natsbus), so an event
// published between the run's wait and its consumer (or while the engine
// was killed in between: TestKilledEngineResumes failed half the time)
// reached nobody.
func TestAttachRegistersAwaitsBeforeTriggers(t *testing.T) {
	b := &orderBroker{MemoryBroker: NewMemoryBroker()}
	e, err := New(Options{Store: store.NewMemory(), Broker: b, EventWorkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("a.json", []byte(`{"version": 1, "flows": [{"name": "A",
  "triggers": [{"kind": "event", "topic": "orders", "event": "placed"}],
  "steps": [{"name": "Wait", "action": {"kind": "await", "topic": "payments", "event": "paid", "timeout": "1h"}}]}]}`)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.names) < 3 || !strings.HasPrefix(b.names[0], "await-") {
		t.Fatalf("consumers registered in the order %v, want the await's first", b.names)
	}
}
