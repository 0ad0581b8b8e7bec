package observe

// The one home of the attribute keys of flowgen's metrics and spans.

import "go.opentelemetry.io/otel/attribute"

// Labels of the metrics: Prometheus label names, which dashboards and the
// alerts of docs/observability.md query (flowgen_runs_finished_total{flow,
// state}). They take no namespace: the metric's name has it, and a label
// with a dot would be exported with an underscore.
const (
	labelFlow    = attribute.Key("flow")
	labelStep    = attribute.Key("step")
	labelOutcome = attribute.Key("outcome")
	labelState   = attribute.Key("state")
	labelTopic   = attribute.Key("topic")
	labelEvent   = attribute.Key("event")
	labelSource  = attribute.Key("source")
)

// Attributes of the run, step and wait spans: flowgen's own, so under
// the flowgen. namespace, as OpenTelemetry asks of attributes that no
// semantic convention defines, lest they clash with one that a later
// convention or another library defines.
const (
	keyFlow         = attribute.Key("flowgen.flow")
	keyStep         = attribute.Key("flowgen.step")
	keyOutcome      = attribute.Key("flowgen.outcome")
	keyTopic        = attribute.Key("flowgen.topic")
	keyEvent        = attribute.Key("flowgen.event")
	keyRunID        = attribute.Key("flowgen.run_id")
	keyAttempt      = attribute.Key("flowgen.attempt")
	keyKey          = attribute.Key("flowgen.idempotency_key")
	keyResumed      = attribute.Key("flowgen.resumed")
	keyRollback     = attribute.Key("flowgen.rollback")
	keyFinal        = attribute.Key("flowgen.final")
	keySuspended    = attribute.Key("flowgen.suspended")
	keyChildFlow    = attribute.Key("flowgen.child_flow")
	keyChildRunID   = attribute.Key("flowgen.child_run_id")
	keyDeadline     = attribute.Key("flowgen.deadline")
	keyUntil        = attribute.Key("flowgen.until")
	keyWaitingSince = attribute.Key("flowgen.waiting_since")
	// keyError holds, on the event of a span that ended short and failed
	// nothing (notAFailure), the error its work returned.
	keyError = attribute.Key("flowgen.error")
)
