package natsbus

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime/store"
)

// BenchmarkEventTriggerNATS measures runs started per second by events
// published on JetStream to an event trigger, with the durable store:
// b.N events are published, then the time until every run has reached
// its step. It runs the engine with its default Options.EventWorkers and,
// in the same run, with one consumer per trigger (EventWorkers 1, what
// the engine had before): x-one-consumer is the ratio of the rates.
func BenchmarkEventTriggerNATS(b *testing.B) {
	s := startServer(b, b.TempDir())
	rate := func(workers int, topic string) float64 {
		broker := connect(b, s)
		st, err := store.Open(b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		e, err := engine.New(engine.Options{Store: st, Broker: broker, ID: topic, EventWorkers: workers})
		if err != nil {
			b.Fatal(err)
		}
		var ran atomic.Int64
		e.Registry().Step("Counted", func(context.Context, *engine.State) (string, error) { ran.Add(1); return "", nil })
		if ds, err := e.LoadFlows("ev.json", []byte(`{"version": 1, "flows": [
 {"name": "Ev", "triggers": [{"kind": "event", "topic": "`+topic+`", "event": "start"}],
  "steps": [{"name": "Counted", "action": {"kind": "go"}, "irreversible": true}]}]}`)); err != nil {
			b.Fatal(err, ds)
		}
		// Published before the engine consumes, to its trigger's
		// consumer: the stream holds them, and the timing is the
		// consumers' alone.
		ensureConsumer(b, broker, "trigger-Ev", topic, "start")
		for i := 0; i < b.N; i++ {
			if err := broker.Publish(context.Background(), engine.Message{Topic: topic, Event: "start", Payload: json.RawMessage(`{}`)}); err != nil {
				b.Fatal(err)
			}
		}
		began := time.Now()
		if err := e.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer e.Close(context.Background())
		waitFor(b, "every event's run", func() bool { return ran.Load() >= int64(b.N) })
		return float64(b.N) / time.Since(began).Seconds()
	}
	b.ResetTimer()
	many := rate(0, "many")
	one := rate(1, "one")
	b.StopTimer()
	b.ReportMetric(many, "runs/s")
	b.ReportMetric(one, "one-consumer-runs/s")
	b.ReportMetric(many/one, "x-one-consumer")
	b.ReportMetric(0, "ns/op")
}
