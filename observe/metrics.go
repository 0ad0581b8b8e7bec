package observe

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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
}

// Bucket boundaries: durations from a millisecond (a no-op step, an
// fdatasync on a fast disk) to minutes (a slow service behind retries);
// batch sizes up to the store's default MaxBatch (4096).
var (
	secondsBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	recordsBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}
)

func (m *instruments) init(meter metric.Meter) error {
	var errs [11]error
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
		metric.WithDescription("Time from a message's publication to its receipt by the engine, by topic and event."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	m.deadLetters, errs[9] = meter.Int64Counter("flowgen.broker.dead_letters",
		metric.WithDescription("Messages the engine dead-lettered, by topic and event."), metric.WithUnit("{message}"))
	m.refused, errs[10] = meter.Int64Counter("flowgen.broker.refused",
		metric.WithDescription("Messages the broker refused to the engine because it was full, by topic and event."), metric.WithUnit("{message}"))
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Attribute keys of metrics and spans.
const (
	keyFlow     = attribute.Key("flow")
	keyStep     = attribute.Key("step")
	keyOutcome  = attribute.Key("outcome")
	keyState    = attribute.Key("state")
	keyTopic    = attribute.Key("topic")
	keyEvent    = attribute.Key("event")
	keyRunID    = attribute.Key("flowgen.run_id")
	keyAttempt  = attribute.Key("flowgen.attempt")
	keyKey      = attribute.Key("flowgen.idempotency_key")
	keyResumed  = attribute.Key("flowgen.resumed")
	keyRollback = attribute.Key("flowgen.rollback")
	keyFinal    = attribute.Key("flowgen.final")

	keyChildFlow  = attribute.Key("flowgen.child_flow")
	keyChildRunID = attribute.Key("flowgen.child_run_id")
)

// attrCache keeps the attribute sets of metric series, so that recording a
// step's duration does not build and sort a set each time.
type attrCache struct{ m sync.Map } // [6]string (keys and values) -> metric.MeasurementOption

// get returns the option of the series with the attributes k1=v1, k2=v2,
// k3=v3 (a key "" is left out).
func (c *attrCache) get(k1 attribute.Key, v1 string, k2 attribute.Key, v2 string, k3 attribute.Key, v3 string) metric.MeasurementOption {
	key := [6]string{string(k1), v1, string(k2), v2, string(k3), v3}
	if o, ok := c.m.Load(key); ok {
		return o.(metric.MeasurementOption)
	}
	kvs := make([]attribute.KeyValue, 0, 3)
	for _, kv := range []attribute.KeyValue{k1.String(v1), k2.String(v2), k3.String(v3)} {
		if kv.Key != "" {
			kvs = append(kvs, kv)
		}
	}
	o, _ := c.m.LoadOrStore(key, metric.WithAttributeSet(attribute.NewSet(kvs...)))
	return o.(metric.MeasurementOption)
}

func topicEvent(topic, event string) attribute.Set {
	return attribute.NewSet(keyTopic.String(topic), keyEvent.String(event))
}

// spanNames keeps the span names built from a prefix and a flow or step
// name ("step Charge"), so that starting a span allocates no name.
type spanNames struct{ m sync.Map } // [2]string -> string

func (c *spanNames) get(prefix, name string) string {
	k := [2]string{prefix, name}
	if v, ok := c.m.Load(k); ok {
		return v.(string)
	}
	v, _ := c.m.LoadOrStore(k, prefix+name)
	return v.(string)
}
