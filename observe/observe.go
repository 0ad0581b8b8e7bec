// Package observe is flowgen's OpenTelemetry: traces of runs and metrics
// for Prometheus. A Telemetry is a runtime.Observer (runtime.WithObserver)
// and an engine.Telemetry (engine.Options.Telemetry): a span per run with a
// child per step attempt, rollback attempt and wait, and the metrics of
// runs, steps, the store and the broker, served at GET /metrics. The
// runtime and the engine link none of this; a program opts in by building
// one. See docs/observability.md.
package observe

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/observe/tracectx"
	"github.com/flowgen/flowgen/runtime"
)

// scope names the instrumentation: the tracer and the meter.
const scope = "github.com/flowgen/flowgen/observe"

// Options configure a Telemetry.
type Options struct {
	// TracerProvider receives the spans of runs (for example an
	// OpenTelemetry SDK TracerProvider with an OTLP exporter). Nil: no
	// tracing, metrics only.
	TracerProvider trace.TracerProvider
	// ProcessMetrics adds the Go runtime's and the process's own metrics
	// (go_*, process_*: goroutines, heap, GC pauses, resident memory, open
	// file descriptors against their limit) to GET /metrics, the series an
	// operator watches the service's bounds with. flowgen serve sets it; a
	// program that already exports them on a /metrics of its own leaves
	// it false, so that the two scrapes do not both carry them.
	ProcessMetrics bool
}

// Telemetry traces runs and keeps flowgen's metrics. Its methods are safe
// for concurrent use.
type Telemetry struct {
	tracer   trace.Tracer // nil: no tracing
	provider *sdkmetric.MeterProvider
	meter    metric.Meter // of scope: its instruments are t.m
	metrics  http.Handler
	m        instruments
	flows    cowMap[string, *flowInfo]

	refusedMu    sync.Mutex
	refusedPairs map[[2]string]struct{} // the topic/event pairs with a series of their own (MaxRefusedSeries)
}

// New returns a Telemetry whose metrics are exported for Prometheus by
// Metrics (a registry of its own: nothing global is touched).
func New(opts Options) (*Telemetry, error) {
	reg := prometheus.NewRegistry()
	if opts.ProcessMetrics {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, err
	}
	t := &Telemetry{
		// No cap on a metric's series (the SDK's default keeps 2,000 and
		// merges the measurements of later ones into one series labelled
		// otel_metric_overflow): flows×5 series of runs finished, one per
		// step and outcome of steps, would lose the series of the flows
		// defined last, and an alert on them would never fire. Their
		// number is the flows' definitions'; the one metric whose labels
		// a client chooses bounds its own (MaxRefusedSeries).
		provider:     sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithCardinalityLimit(0)),
		refusedPairs: make(map[[2]string]struct{}),
		metrics:      promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}),
	}
	if opts.TracerProvider != nil {
		t.tracer = opts.TracerProvider.Tracer(scope)
	}
	t.meter = t.provider.Meter(scope)
	if err := t.m.init(t.meter); err != nil {
		return nil, err
	}
	return t, nil
}

// Metrics serves the metrics in the Prometheus exposition format
// (GET /metrics).
func (t *Telemetry) Metrics() http.Handler { return t.metrics }

// Shutdown stops the metrics; the TracerProvider is the caller's to shut
// down.
func (t *Telemetry) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// Carry gives a run started by a request (ctx of an API request or of a
// broker delivery) the request's trace: the run's span is its child.
func (t *Telemetry) Carry(req, run context.Context) context.Context {
	if t.tracer == nil {
		return run
	}
	return tracectx.Carry(req, run)
}

// Link returns the W3C traceparent of ctx's span, "" without tracing: what
// an event the engine receives keeps of its sender (engine.Message.Link).
func (t *Telemetry) Link(ctx context.Context) string {
	if t.tracer == nil {
		return ""
	}
	return tracectx.Of(ctx)
}

// Sender returns ctx with the span whose W3C traceparent is link as its
// remote parent, unless ctx has a span already (natsbus's deliveries
// carry their sender's) or tracing is off.
func (t *Telemetry) Sender(ctx context.Context, link string) context.Context {
	if t.tracer == nil || trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	if sc := tracectx.Parse(link); sc.IsValid() {
		return trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return ctx
}

// Defined gives flow, which an engine put in effect, its series at 0
// (flow): from its definition on, an alert sees the first run it starts
// or ends in a state, however soon after the process started
// (engine.Telemetry.Defined). The series are the flow's definitions'
// number, as those its runs would make.
func (t *Telemetry) Defined(flow string) { t.flow(flow) }

// Inject writes the W3C trace context of ctx's span into h, nothing
// without tracing: a call to an HTTP provider carries its step's span.
func (t *Telemetry) Inject(ctx context.Context, h http.Header) {
	if t.tracer != nil {
		tracectx.Inject(ctx, h)
	}
}

// StoreCommitted records one group commit of the durable store: its size
// in records and its sync time (store.Options.Committed).
func (t *Telemetry) StoreCommitted(records int, sync time.Duration) {
	ctx := context.Background()
	t.m.syncSeconds.Record(ctx, sync.Seconds())
	t.m.commitRecords.Record(ctx, int64(records))
}

// Delivered records a broker message the engine took, lag after its
// publication (negative lags, from clocks apart, count as 0): once per
// message (engine.Telemetry.Delivered).
func (t *Telemetry) Delivered(topic, event string, lag time.Duration) {
	t.m.brokerLag.Record(context.Background(), max(lag, 0).Seconds(), metric.WithAttributeSet(topicEvent(topic, event)))
}

// DeadLettered records a message the engine dead-lettered.
func (t *Telemetry) DeadLettered(topic, event string) {
	t.m.deadLetters.Add(context.Background(), 1, metric.WithAttributeSet(topicEvent(topic, event)))
}

// Refused records a message the broker refused to the engine because it
// was full.
func (t *Telemetry) Refused(topic, event string) {
	t.m.refused.Add(context.Background(), 1, metric.WithAttributeSet(t.refusedSeries(topic, event)))
}

// MaxRefusedSeries bounds the series of flowgen_broker_refused_total: the
// refusals of a topic and event past the first MaxRefusedSeries pairs
// refused in this process count in one series whose topic and event are
// empty. The pair is its publisher's (any client's POST /events names its
// own, which the broker, NATS JetStream say, may refuse), so each request
// could add a series for as long as the process lives. The other
// metrics' labels are the flows' own (flow, step, outcome, the topics
// their steps consume): as many series as the flows define.
const MaxRefusedSeries = 1000

// refusedSeries returns the attributes of a refusal of topic/event: its
// own, or past MaxRefusedSeries pairs, empty ones.
func (t *Telemetry) refusedSeries(topic, event string) attribute.Set {
	t.refusedMu.Lock()
	defer t.refusedMu.Unlock()
	k := [2]string{topic, event}
	if _, ok := t.refusedPairs[k]; !ok {
		if len(t.refusedPairs) >= MaxRefusedSeries {
			return topicEvent("", "")
		}
		t.refusedPairs[k] = struct{}{}
	}
	return topicEvent(topic, event)
}

// InFlight exports what read returns at each collection of the metrics:
// an engine's runs in flight and their bound (flowgen_runs_in_flight,
// flowgen_runs_in_flight_limit), and the starts it refused at the bound
// by source (flowgen_starts_refused_total, a series at 0 for each source
// from the start, so that an alert sees the first refusal). The engine
// keeps the counts; they are read, never counted again here. One engine
// reports to a Telemetry (flowgen serve has one).
func (t *Telemetry) InFlight(read func() (running, max int64, refused iter.Seq2[string, uint64])) (unregister func()) {
	reg, err := t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		running, max, refused := read()
		o.ObserveInt64(t.m.inFlight, running)
		o.ObserveInt64(t.m.inFlightLimit, max)
		for source, n := range refused {
			o.ObserveInt64(t.m.startsRefused, int64(n), metric.WithAttributeSet(attribute.NewSet(labelSource.String(source))))
		}
		return nil
	}, t.m.inFlight, t.m.inFlightLimit, t.m.startsRefused)
	if err != nil {
		// Only for instruments of another meter: these are t.meter's.
		panic(err)
	}
	return func() { _ = reg.Unregister() }
}

// ObserveRun implements runtime.Observer: the run's metrics, and with a
// TracerProvider its span.
func (t *Telemetry) ObserveRun(ctx context.Context, info runtime.RunInfo) (context.Context, runtime.RunObserver) {
	ro := &runObserver{t: t, f: t.flow(info.Flow)}
	if t.tracer != nil {
		ctx = ro.startSpan(ctx, info)
	}
	if info.Wait != nil { // resumed parked: it waits again
		step, _, _ := runtime.ParseMachineState(info.Machine)
		ro.enterWait(ctx, step, info.Wait, info.WaitSince)
	}
	return ctx, ro
}

var errNotDone = errors.New("run did not end done")
