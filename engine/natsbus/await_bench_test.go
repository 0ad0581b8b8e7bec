package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime/store"
)

// plainBroker hides ConsumeBatch: the engine's inbox then takes one event
// at a time, as it did before batches.
type plainBroker struct{ engine.Broker }

// BenchmarkAwaitThroughputNATS parks b.N runs of the Wait flow on their
// awaits, publishes their b.N events on JetStream from 16 goroutines, and
// times until every run's next step ran, with the durable store. It runs
// with the inbox taking JetStream's messages in batches (natsbus is an
// engine.BatchBroker) and, in the same run, one at a time (the broker
// without ConsumeBatch): x-one-at-a-time is the ratio of the rates.
func BenchmarkAwaitThroughputNATS(b *testing.B) {
	s := startServer(b, b.TempDir())
	rate := func(id string, wrap func(*Broker) engine.Broker) float64 {
		st, err := store.Open(b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		broker := connect(b, s)
		e, err := engine.New(engine.Options{Store: st, Broker: wrap(broker), ID: id})
		if err != nil {
			b.Fatal(err)
		}
		var woken atomic.Int64
		e.Registry().Step("After", func(context.Context, *engine.State) (string, error) { woken.Add(1); return "", nil })
		topic := "t-" + id
		flow := fmt.Sprintf(`{"version": 1, "flows": [
 {"name": "Wait", "state": "WaitState", "triggers": [{"kind": "rpc", "endpoint": "Wait.Start"}],
  "steps": [
   {"name": "Await", "action": {"kind": "await", "topic": %q, "event": "go", "correlate": "Key", "timeout": "1h"}},
   {"name": "After", "action": {"kind": "go"}, "irreversible": true}]}]}`, topic)
		if ds, err := e.LoadFlows("wait.json", []byte(flow)); err != nil {
			b.Fatal(err, ds)
		}
		if err := e.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer e.Close(context.Background())
		for i := 0; i < b.N; i++ {
			if _, err := e.StartRun(context.Background(), "Wait", json.RawMessage(fmt.Sprintf(`{"Key":"k%d"}`, i)), ""); err != nil {
				b.Fatal(err)
			}
		}
		waitFor(b, "every run parked", func() bool { return e.Parked() == b.N })
		began := time.Now()
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
					m := engine.Message{Topic: topic, Event: "go", Payload: json.RawMessage(fmt.Sprintf(`{"correlation_id":"k%d"}`, i))}
					if err := broker.Publish(context.Background(), m); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		waitFor(b, "every run woken", func() bool { return woken.Load() >= int64(b.N) })
		return float64(b.N) / time.Since(began).Seconds()
	}
	b.ResetTimer()
	batched := rate("batched", func(b *Broker) engine.Broker { return b })
	one := rate("one", func(b *Broker) engine.Broker { return plainBroker{b} })
	b.StopTimer()
	b.ReportMetric(batched, "awaited-events/s")
	b.ReportMetric(one, "one-at-a-time-events/s")
	b.ReportMetric(batched/one, "x-one-at-a-time")
	b.ReportMetric(0, "ns/op")
}
