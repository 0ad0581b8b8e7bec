package observe

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/flowgen/flowgen/runtime"
)

// instruments are flowgen's metrics; docs/observability.md lists each
// with its Prometheus name (the exporter turns "flowgen.runs.started" into
// flowgen_runs_started_total, a unit "s" into a _seconds suffix).
type instruments struct {
	runsStarted   metric.Int64Counter
	runsFinished  metric.Int64Counter
	runsWaiting   metric.Int64UpDownCounter
	stepDuration  metric.Float64Histogram
	retries       metric.Int64Counter
	rollbacks     metric.Int64Counter
	syncSeconds   metric.Float64Histogram
	commitRecords metric.Int64Histogram
	brokerLag     metric.Float64Histogram
	deadLetters   metric.Int64Counter
	refused       metric.Int64Counter
	inFlight      metric.Int64ObservableGauge
	inFlightLimit metric.Int64ObservableGauge
	startsRefused metric.Int64ObservableCounter
}

// Bucket boundaries: durations from a millisecond (a no-op step, an
// fdatasync on a fast disk) to minutes (a slow service behind retries);
// batch sizes up to the store's default MaxBatch (4096).
var (
	secondsBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	recordsBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}
)

func (m *instruments) init(meter metric.Meter) error {
	var errs [14]error
	m.runsStarted, errs[0] = meter.Int64Counter("flowgen.runs.started",
		metric.WithDescription("Runs started, by flow."), metric.WithUnit("{run}"))
	m.runsFinished, errs[1] = meter.Int64Counter("flowgen.runs.finished",
		metric.WithDescription("Runs ended, by flow and terminal state."), metric.WithUnit("{run}"))
	m.runsWaiting, errs[2] = meter.Int64UpDownCounter("flowgen.runs.waiting",
		metric.WithDescription("Runs parked on a wait (an await, a sleep, a call, a Go step for a provider; a rollback waiting for its event, provider or child) in this process, by flow."), metric.WithUnit("{run}"))
	m.stepDuration, errs[3] = meter.Float64Histogram("flowgen.step.duration",
		metric.WithDescription("Duration of step attempts, by flow, step and outcome."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	m.retries, errs[4] = meter.Int64Counter("flowgen.retries",
		metric.WithDescription("Attempts that failed and were retried, of steps and rollbacks, by flow and step."), metric.WithUnit("{retry}"))
	m.rollbacks, errs[5] = meter.Int64Counter("flowgen.rollbacks",
		metric.WithDescription("Rollback attempts, by flow, step and outcome."), metric.WithUnit("{rollback}"))
	m.syncSeconds, errs[6] = meter.Float64Histogram("flowgen.store.sync.duration",
		metric.WithDescription("Time of the durable store's syncs, one per group commit."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	m.commitRecords, errs[7] = meter.Int64Histogram("flowgen.store.commit.records",
		metric.WithDescription("Records made durable by one group commit of the store."), metric.WithUnit("{record}"),
		metric.WithExplicitBucketBoundaries(recordsBuckets...))
	m.brokerLag, errs[8] = meter.Float64Histogram("flowgen.broker.lag",
		metric.WithDescription("Time from a message's publication to the delivery the engine took, one sample per message taken, by topic and event."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	m.deadLetters, errs[9] = meter.Int64Counter("flowgen.broker.dead_letters",
		metric.WithDescription("Messages the engine dead-lettered, by topic and event."), metric.WithUnit("{message}"))
	m.refused, errs[10] = meter.Int64Counter("flowgen.broker.refused",
		metric.WithDescription("Messages the broker refused to the engine because it was full, by topic and event."), metric.WithUnit("{message}"))
	m.inFlight, errs[11] = meter.Int64ObservableGauge("flowgen.runs.in_flight",
		metric.WithDescription("Runs of the engine holding a goroutine (running a step, backing off, rolling back), which its starts are bounded by."), metric.WithUnit("{run}"))
	m.inFlightLimit, errs[12] = meter.Int64ObservableGauge("flowgen.runs.in_flight.limit",
		metric.WithDescription("The bound of the engine's runs in flight (serve -max-running): starts beyond are refused."), metric.WithUnit("{run}"))
	m.startsRefused, errs[13] = meter.Int64ObservableCounter("flowgen.starts.refused",
		metric.WithDescription("Starts the engine refused because its runs in flight were at their bound, by source: request, event, schedule."), metric.WithUnit("{start}"))
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// series is a metric series: its attributes as the options of an Add or a
// Record, kept in slices so that recording a measurement does not allocate
// the list of its options (a variadic argument of a call through an
// interface escapes).
type series struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

// seriesOf is the series with the attributes kvs.
func seriesOf(kvs ...attribute.KeyValue) series {
	o := metric.WithAttributeSet(attribute.NewSet(kvs...))
	return series{add: []metric.AddOption{o}, record: []metric.RecordOption{o}}
}

func topicEvent(topic, event string) attribute.Set {
	return attribute.NewSet(labelTopic.String(topic), labelEvent.String(event))
}

// flowInfo is what the runs of one flow reuse: their span names and metric
// series, built once for the flow in this process (at its definition in an
// engine, Defined, or at its first run), and a step's at its first attempt,
// so that observing a run builds no attribute set and allocates neither a
// name nor a key to look them up by.
type flowInfo struct {
	name     string
	runName  string                      // of the run span: "run Signup"
	series   series                      // flow=
	finished map[runtime.RunState]series // flow=, state= (terminal states)
	steps    cowMap[string, *stepInfo]
}

// stepInfo is what the attempts of one step of a flow reuse.
type stepInfo struct {
	flow, step string
	spanName   [2]string // of the attempt's span: "step Charge", and of its rollback's: "rollback Charge"
	retries    series    // flow=, step=
	outcomes   cowMap[runtime.Outcome, series]
}

// flow returns the flowInfo of flow. Its making gives the flow its series
// of the counters of its runs at 0: flowgen_runs_started_total, and
// flowgen_runs_finished_total for each terminal state. A counter that
// first appears already counting hides its first increase from increase()
// and rate() (they need two samples): a state such as
// compensation_failed, rare, would have its first run missed by an alert.
func (t *Telemetry) flow(flow string) *flowInfo {
	return t.flows.get(flow, func(flow string) *flowInfo {
		ctx := context.Background()
		f := &flowInfo{name: flow, runName: "run " + flow, series: seriesOf(labelFlow.String(flow)),
			finished: make(map[runtime.RunState]series)}
		t.m.runsStarted.Add(ctx, 0, f.series.add...)
		for _, s := range runtime.RunStates {
			if s.Terminal() {
				f.finished[s] = seriesOf(labelFlow.String(flow), labelState.String(string(s)))
				t.m.runsFinished.Add(ctx, 0, f.finished[s].add...)
			}
		}
		return f
	})
}

// step returns the stepInfo of the flow's step.
func (f *flowInfo) step(step string) *stepInfo {
	return f.steps.get(step, func(step string) *stepInfo {
		return &stepInfo{flow: f.name, step: step, spanName: [2]string{"step " + step, "rollback " + step},
			retries: seriesOf(labelFlow.String(f.name), labelStep.String(step))}
	})
}

// outcome returns the series flow=, step=, outcome= of the step's attempts
// (or its rollback's) that ended out.
func (s *stepInfo) outcome(out runtime.Outcome) series {
	return s.outcomes.get(out, func(out runtime.Outcome) series {
		return seriesOf(labelFlow.String(s.flow), labelStep.String(s.step), labelOutcome.String(string(out)))
	})
}

// cowMap is a map for few keys, each added once and read many times from
// many goroutines: a read takes no lock and allocates nothing (a sync.Map
// boxes its key), an addition copies the map.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V]
}

// get returns the value of k, made by mk at the first get of k.
func (c *cowMap[K, V]) get(k K, mk func(K) V) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[K]V
	if m := c.m.Load(); m != nil {
		old = *m
	}
	if v, ok := old[k]; ok {
		return v
	}
	v := mk(k)
	m := make(map[K]V, len(old)+1)
	maps.Copy(m, old)
	m[k] = v
	c.m.Store(&m)
	return v
}
