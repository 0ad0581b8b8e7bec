package observe_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// discard is a span exporter that drops every span: the cost measured is
// flowgen's and the SDK's, not an exporter's.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

type benchState struct {
	Customer string `json:"customer"`
	Plan     string `json:"plan"`
}

// fiveSteps is a flow of 5 no-op steps on a new durable store.
func fiveSteps(b *testing.B, opts ...runtime.Option) (*runtime.Flow[benchState], func()) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	f := runtime.New[benchState]("Bench", append([]runtime.Option{runtime.WithSink(st)}, opts...)...)
	for i := range 5 {
		if err := f.Register(runtime.NewStep(fmt.Sprintf("S%d", i+1), func(context.Context, *benchState) (runtime.Outcome, error) {
			return runtime.OutcomeOK, nil
		})); err != nil {
			b.Fatal(err)
		}
	}
	return f, func() { st.Close() }
}

// inFlight runs n runs of f, 100 at a time, and returns how long they took.
func inFlight(b *testing.B, f *runtime.Flow[benchState], n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 100 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				res, err := f.Execute(context.Background(), benchState{Customer: "c-123456", Plan: "pro"})
				if err != nil || res.Final != runtime.StateDone {
					b.Errorf("run ended %s: %v", res.Final, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkTracingOverhead: 100 runs in flight of a 5-step flow on the
// durable store, in three setups measured in interleaved rounds of the same
// run: no observer; metrics only (observe.Telemetry without a
// TracerProvider, what flowgen serve has with tracing off); and metrics
// with tracing (an SDK TracerProvider with a batch processor and an
// exporter that drops the spans). x-metrics, the overhead of tracing, is
// the time with tracing over the time with metrics only (target <= 1.15);
// x-off is the time with both over the time with neither;
// x-metrics-sampled is x-metrics with one trace in ten recorded (flowgen
// serve -trace-sample 0.1). cpu-x-metrics is x-metrics in the process's CPU
// time (user and system, where getrusage is) instead of the wall clock's:
// on a machine other jobs share, their load moves the wall clock's ratio
// by more than tracing costs, and the CPU a setup's rounds used much less.
func BenchmarkTracingOverhead(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(context.Background())
	traced, err := observe.New(observe.Options{TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	// What -trace-sample 0.1 runs: one trace in ten recorded.
	sampledTP := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))))
	defer sampledTP.Shutdown(context.Background())
	sampledTel, err := observe.New(observe.Options{TracerProvider: sampledTP})
	if err != nil {
		b.Fatal(err)
	}
	metered, err := observe.New(observe.Options{})
	if err != nil {
		b.Fatal(err)
	}
	off, closeOff := fiveSteps(b)
	defer closeOff()
	met, closeMet := fiveSteps(b, runtime.WithObserver(metered))
	defer closeMet()
	on, closeOn := fiveSteps(b, runtime.WithObserver(traced))
	defer closeOn()
	sampled, closeSampled := fiveSteps(b, runtime.WithObserver(sampledTel))
	defer closeSampled()
	// Interleaved rounds, so that a neighbour's load on the machine falls
	// on every setup alike.
	b.ResetTimer()
	var dOn, dMet, dOff, dSampled, cpuOn, cpuMet time.Duration
	const rounds = 4
	for i := range rounds {
		n := b.N / rounds
		if i == 0 {
			n += b.N % rounds
		}
		dOff += inFlight(b, off, n)
		cpu0 := cpuTime()
		dMet += inFlight(b, met, n)
		cpu1 := cpuTime()
		dOn += inFlight(b, on, n)
		cpu2 := cpuTime()
		cpuMet, cpuOn = cpuMet+cpu1-cpu0, cpuOn+cpu2-cpu1
		dSampled += inFlight(b, sampled, n)
	}
	b.StopTimer()
	if cpuTime() >= 0 {
		b.ReportMetric(cpuOn.Seconds()/cpuMet.Seconds(), "cpu-x-metrics")
	}
	b.ReportMetric(float64(b.N*6)/dOn.Seconds(), "transitions/s")
	b.ReportMetric(float64(b.N*6)/dMet.Seconds(), "metrics-transitions/s")
	b.ReportMetric(float64(b.N*6)/dOff.Seconds(), "off-transitions/s")
	b.ReportMetric(dOn.Seconds()/dMet.Seconds(), "x-metrics")
	b.ReportMetric(dOn.Seconds()/dOff.Seconds(), "x-off")
	b.ReportMetric(dSampled.Seconds()/dMet.Seconds(), "x-metrics-sampled")
}

// BenchmarkObserverRun: the observer's own work for one run of five steps,
// without a store or a runtime (the hooks called as a run calls them), so
// that what flowgen adds can be told from the noise of a disk and from the
// OpenTelemetry SDK's span work: metrics only, metrics with tracing (the
// provider of BenchmarkTracingOverhead), and for reference the SDK alone
// making the same six spans with five attributes each, set at their end.
// Run it with -cpu 1: it measures work, not parallelism.
func BenchmarkObserverRun(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(context.Background())
	r := newHookRun()
	observed := func(opts observe.Options) func(*testing.B) {
		return func(b *testing.B) {
			tel, err := observe.New(opts)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := range b.N {
				r.run(tel, i)
			}
		}
	}
	b.Run("metrics", observed(observe.Options{}))
	b.Run("traced", observed(observe.Options{TracerProvider: tp}))
	b.Run("sdk-six-spans", func(b *testing.B) {
		tr := tp.Tracer("bench")
		b.ReportAllocs()
		for range b.N {
			r.sdkSpans(tr)
		}
	})
}

// hookRun calls an observer's hooks as a run of five steps that all end ok
// calls them, and makes the spans of such a run with the SDK alone.
type hookRun struct {
	steps []string
	names []string // of the steps' spans, for the SDK alone
	evs   []runtime.Event
	ids   []string
	kv    [5]attribute.KeyValue // the SDK alone's attributes: a list on the stack would escape each time
}

func newHookRun() *hookRun {
	r := &hookRun{steps: []string{"S1", "S2", "S3", "S4", "S5"}, ids: make([]string, 1024)}
	from := runtime.MachinePending
	for i := range len(r.steps) + 1 {
		to, step := string(runtime.StateDone), ""
		if i < len(r.steps) {
			step = r.steps[i]
			to = runtime.RunningState(step)
			r.names = append(r.names, "step "+step)
		}
		r.evs = append(r.evs, runtime.Event{Seq: uint64(i + 1), From: from, To: to, Step: step, Outcome: runtime.OutcomeOK})
		from = to
	}
	for i := range r.ids {
		r.ids[i] = fmt.Sprintf("run-%06d", i)
	}
	return r
}

// run observes the i-th run with o.
func (r *hookRun) run(o runtime.Observer, i int) {
	id := r.ids[i%len(r.ids)]
	ctx, ro := o.ObserveRun(context.Background(), runtime.RunInfo{Flow: "Bench", RunID: id, Machine: runtime.MachinePending})
	_ = ro.Trace()
	ro.Recorded(&r.evs[0])
	for j, s := range r.steps {
		_, end := ro.Action(ctx, runtime.Action{RunID: id, Step: s, Visit: 1, Attempt: 1})
		end(runtime.OutcomeOK, nil)
		ro.Recorded(&r.evs[j+1])
	}
	ro.Ended(runtime.StateDone, nil)
}

// sdkSpans makes with tr the six spans of a run, five attributes each set
// at their end, as the SDK alone would at the least.
func (r *hookRun) sdkSpans(tr trace.Tracer) {
	kv := &r.kv
	ctx, run := tr.Start(context.Background(), "run Bench")
	for i, s := range r.steps {
		_, span := tr.Start(ctx, r.names[i])
		*kv = [5]attribute.KeyValue{attribute.String("flowgen.flow", "Bench"), attribute.String("flowgen.step", s),
			attribute.Int("flowgen.attempt", 1), attribute.String("flowgen.idempotency_key", s), attribute.String("flowgen.outcome", "ok")}
		span.SetAttributes(kv[:]...)
		span.End()
	}
	run.SetAttributes(kv[:]...)
	run.End()
}
