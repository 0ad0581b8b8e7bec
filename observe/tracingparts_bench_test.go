package observe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
)

// dropSpans is a span processor that drops every ended span, on the
// ending goroutine: no batch processor's goroutine to hand it to (which
// would also allocate beside TestTracingAllocatesLittleBesideTheSDK's
// count).
type dropSpans struct{}

func (dropSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (dropSpans) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (dropSpans) Shutdown(context.Context) error                  { return nil }
func (dropSpans) ForceFlush(context.Context) error                { return nil }

// runSpansOnly is a sampler that records every span but the steps' (and
// rollbacks'), which the SDK still starts, unrecorded, so that their
// context reaches a step's calls.
type runSpansOnly struct{}

func (runSpansOnly) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	d := sdktrace.RecordAndSample
	if strings.HasPrefix(p.Name, "step ") || strings.HasPrefix(p.Name, "rollback ") {
		d = sdktrace.Drop
	}
	return sdktrace.SamplingResult{Decision: d, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

func (runSpansOnly) Description() string { return "runSpansOnly" }

// BenchmarkTracingParts: where the cost of tracing lies, in the setup of
// BenchmarkTracingOverhead (100 runs in flight of the 5-step flow on the
// durable store). Beside metrics only and tracing as that benchmark
// measures it, two setups take a part away: "sync", the ended spans
// dropped on the goroutine that ends them instead of handed to the batch
// processor's goroutine; and "runonly", the step spans not recorded (the
// SDK starts them all the same, so this is the recording of five spans:
// their attributes, snapshot and export). Each is reported as its time
// over metrics only's, in the process's CPU (cpu-x-...) and on the wall
// clock (x-...), over 20 interleaved rounds whose order rotates. Not the
// measure of issue 12's target, which BenchmarkTracingOverhead is.
func BenchmarkTracingParts(b *testing.B) {
	batched := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer batched.Shutdown(context.Background())
	dropping := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(dropSpans{}))
	defer dropping.Shutdown(context.Background())
	runOnly := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}), sdktrace.WithSampler(runSpansOnly{}))
	defer runOnly.Shutdown(context.Background())
	type setup struct {
		name      string
		f         *runtime.Flow[benchState]
		wall, cpu time.Duration
	}
	flow := func(opts observe.Options) *runtime.Flow[benchState] {
		tel, err := observe.New(opts)
		if err != nil {
			b.Fatal(err)
		}
		f, closeF := fiveSteps(b, runtime.WithObserver(tel))
		b.Cleanup(closeF)
		return f
	}
	setups := []*setup{
		{name: "metrics", f: flow(observe.Options{})},
		{name: "traced", f: flow(observe.Options{TracerProvider: batched})},
		{name: "sync", f: flow(observe.Options{TracerProvider: dropping})},
		{name: "runonly", f: flow(observe.Options{TracerProvider: runOnly})},
	}
	b.ResetTimer()
	const rounds = 20
	for i := range rounds {
		n := b.N / rounds
		if i == 0 {
			n += b.N % rounds
		}
		for j := range setups {
			s := setups[(i+j)%len(setups)]
			cpu0 := cpuTime()
			s.wall += inFlight(b, s.f, n)
			s.cpu += cpuTime() - cpu0
		}
	}
	b.StopTimer()
	base := setups[0]
	for _, s := range setups[1:] {
		b.ReportMetric(s.wall.Seconds()/base.wall.Seconds(), "x-"+s.name)
		if cpuTime() >= 0 {
			b.ReportMetric(s.cpu.Seconds()/base.cpu.Seconds(), "cpu-x-"+s.name)
		}
	}
}
