package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime/store"
)

const waitFlow = `{"version": 1, "flows": [
 {"name": "Wait", "state": "WaitState", "triggers": [{"kind": "rpc", "endpoint": "Wait.Start"}],
  "steps": [
   {"name": "Await", "action": {"kind": "await", "topic": "t", "event": "go", "correlate": "Key", "timeout": "1h"}},
   {"name": "After", "action": {"kind": "go"}, "irreversible": true}]}
]}`

func p50(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// BenchmarkAwaitResumeNATS measures the latency from publishing an event
// on JetStream to the step after the await starting, with the durable
// store: JetStream's publish acknowledgement and delivery, the engine's
// inbox record, the claim and the resume. The baseline, in the same run,
// is JetStream alone: publish to a durable consumer's handler.
func BenchmarkAwaitResumeNATS(b *testing.B) {
	s := startServer(b, b.TempDir())
	broker := connect(b, s)
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	e, err := engine.New(engine.Options{Store: st, Broker: broker, ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	resumed := make(chan time.Time, 1)
	e.Registry().Step("After", func(context.Context, *engine.State) (string, error) {
		resumed <- time.Now()
		return "", nil
	})
	if ds, err := e.LoadFlows("wait.json", []byte(waitFlow)); err != nil {
		b.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())

	got := make(chan time.Time, 1)
	stop, err := broker.Consume(context.Background(), "raw", "raw", "ping", func(context.Context, engine.Message) error {
		got <- time.Now()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer stop()

	b.ResetTimer()
	var viaEngine, raw []time.Duration
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("k%d", i)
		id, err := e.StartRun(context.Background(), "Wait", json.RawMessage(`{"Key":"`+key+`"}`), "")
		if err != nil {
			b.Fatal(err)
		}
		waitFor(b, "waiting", func() bool { st, _ := e.Status(context.Background(), id); return st.Wait != nil && e.Parked() == 1 })
		time.Sleep(100 * time.Microsecond) // the run's goroutine ends after it parks
		start := time.Now()
		if err := broker.Publish(context.Background(), engine.Message{Topic: "t", Event: "go", Payload: json.RawMessage(`{"correlation_id":"` + key + `"}`)}); err != nil {
			b.Fatal(err)
		}
		viaEngine = append(viaEngine, (<-resumed).Sub(start))

		start = time.Now()
		if err := broker.Publish(context.Background(), engine.Message{Topic: "raw", Event: "ping", Payload: json.RawMessage(`{}`)}); err != nil {
			b.Fatal(err)
		}
		raw = append(raw, (<-got).Sub(start))
	}
	b.StopTimer()
	pe, pr := p50(viaEngine), p50(raw)
	b.ReportMetric(float64(pe.Microseconds()), "p50-µs")
	b.ReportMetric(float64(pr.Microseconds()), "jetstream-p50-µs")
	b.ReportMetric(float64(pe)/float64(max(pr, 1)), "engine/jetstream")
	b.ReportMetric(0, "ns/op")
}
