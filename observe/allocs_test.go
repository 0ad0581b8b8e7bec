//go:build !race

// The race detector makes sync.Pool drop what it is given at random, so
// that allocations are not counted under it.

package observe_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowgen/flowgen/observe"
)

// TestTracingAllocatesLittleBesideTheSDK: tracing a run of five steps
// allocates, beside what metrics alone allocate and what the SDK allocates
// for the run's six spans (their spans, contexts, attribute lists and
// snapshots), only the five idempotency keys and the run's traceparent.
// Each attempt's span was given its start (trace.WithTimestamp), which
// cost two allocations of its own, ten a run: a quarter of the 40
// allocations tracing added to a run's (issue 12, docs/benchmarks.md).
func TestTracingAllocatesLittleBesideTheSDK(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(dropSpans{}))
	defer tp.Shutdown(context.Background())
	r := newHookRun()
	allocs := func(opts observe.Options) float64 {
		tel, err := observe.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		r.run(tel, i) // the flow's and its steps' tables, built once
		return testing.AllocsPerRun(200, func() {
			i++
			r.run(tel, i)
		})
	}
	metrics := allocs(observe.Options{})
	traced := allocs(observe.Options{TracerProvider: tp})
	tr := tp.Tracer("test")
	sdk := testing.AllocsPerRun(200, func() { r.sdkSpans(tr) })
	const keysAndTraceparent = 5 + 1
	if own := traced - metrics - sdk; own > keysAndTraceparent {
		t.Errorf("a traced run allocates %.0f times, metrics alone %.0f, the SDK's six spans %.0f: tracing adds %.0f of its own, want at most %d (the idempotency keys, the traceparent)",
			traced, metrics, sdk, own, keysAndTraceparent)
	}
}
