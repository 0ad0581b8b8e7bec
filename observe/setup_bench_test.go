package observe_test

import (
	"context"
	"runtime/metrics"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
)

// BenchmarkTracingSetup: one setup of BenchmarkTracingOverhead at a time
// (100 runs in flight of the 5-step flow on the durable store), metrics
// only or metrics with tracing (the same provider), so that each can be
// profiled alone and the profiles compared (-cpuprofile or -memprofile of
// each, then go tool pprof -top -diff_base). Beside the time it reports
// what a loaded machine does not blur: allocations and bytes per run
// (-benchmem), garbage collections per 1,000 runs, and the process's CPU
// time per run (user and system, from getrusage, where there is one).
func BenchmarkTracingSetup(b *testing.B) {
	setup := func(opts observe.Options) func(*testing.B) {
		return func(b *testing.B) {
			tel, err := observe.New(opts)
			if err != nil {
				b.Fatal(err)
			}
			f, closeF := fiveSteps(b, runtime.WithObserver(tel))
			defer closeF()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, gc0 := cpuTime(), gcCycles()
			d := inFlight(b, f, b.N)
			cpu1, gc1 := cpuTime(), gcCycles()
			b.ReportMetric(float64(b.N*6)/d.Seconds(), "transitions/s")
			if cpu0 >= 0 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N)/1e3, "cpu-µs/run")
			}
			b.ReportMetric(float64(gc1-gc0)*1000/float64(b.N), "gcs/1000-runs")
		}
	}
	b.Run("metrics", setup(observe.Options{}))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(context.Background())
	b.Run("traced", setup(observe.Options{TracerProvider: tp}))
}

// gcCycles is how many garbage collections the process has completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
