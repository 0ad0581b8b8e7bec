package engine

// Telemetry of the engine: the hooks package observe fills (traces and
// metrics), so that the engine itself links no telemetry library.

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Telemetry is what the engine reports to and serves (Options.Telemetry);
// *observe.Telemetry implements it. The engine adds it to its flows'
// runtime options (RuntimeOptions) as their runtime.Observer.
type Telemetry interface {
	runtime.Observer
	// Metrics serves the metrics at GET /metrics (RoleMetrics: a
	// scraper's token, a viewer's, a client's or an admin's).
	Metrics() http.Handler
	// Carry returns run, the parent context of a run that req (the context
	// of an API request or of a broker delivery) starts, with what the run
	// keeps of req: its trace.
	Carry(req, run context.Context) context.Context
	// Link returns the W3C traceparent of ctx's span ("" for none): what
	// an event the engine receives (PublishEvent) or publishes keeps of
	// its sender, Message.Link.
	Link(ctx context.Context) string
	// Delivered is called once for each message the engine takes from the
	// broker (its consumer's handler returned nil), lag after its
	// publication (Message.Published; 0 if unknown) when the delivery
	// taken came: a delivery refused and tried again counts once.
	Delivered(topic, event string, lag time.Duration)
	// DeadLettered is called for each message the engine dead-letters.
	DeadLettered(topic, event string)
	// Refused is called for each message the broker refused to the
	// engine because it was full (ErrBrokerFull): an event of POST
	// /events (502), or of a publish step (which retries).
	Refused(topic, event string)
	// Sender returns ctx, the context of a broker delivery, with the span
	// of the message's sender (link, its Message.Link) as its parent when
	// ctx has no span of its own (a broker that carries no trace context
	// in its deliveries, as MemoryBroker): a run the message starts
	// continues its sender's trace.
	Sender(ctx context.Context, link string) context.Context
	// Defined is called for each flow the engine puts in effect: each
	// definition or new definition, from Go (Register, RegisterFlow) or
	// JSON (LoadFlows, the flows directory, PUT /flows), before its first
	// run (inEffect). The metrics give the flow its series at 0 then, so
	// that an alert on a counter of its runs sees their first increase.
	Defined(flow string)
	// Publishing is called before the engine publishes an event a step
	// sends (a publish step, runtime.Step.Publish) under ctx, the step
	// attempt's: system names the broker (MessagingSystem), id is the
	// message's ID. It returns the context the publication goes under (a
	// tracer's producer span, which the message carries as its sender:
	// Message.Link, natsbus's headers) and the function called once with
	// what the publication returned.
	Publishing(ctx context.Context, system, topic, event, id string) (context.Context, func(error))
	// Inject writes the trace context of ctx's span, if any, into h: the
	// headers of a call the engine makes to an HTTP provider.
	Inject(ctx context.Context, h http.Header)
	// InFlight registers read, which the metrics call at each collection:
	// the engine's runs in flight, their bound (Options.MaxRunning), and
	// the starts refused at the bound so far (ErrBusy), by what was
	// refused: "request" (a client's start or POST /events: 429),
	// "event" (an event trigger's event from the broker, delivered again
	// later) and "schedule" (a schedule's tick, tried again). The engine
	// registers as it starts and calls unregister as it closes.
	InFlight(read func() (running, max int64, refused iter.Seq2[string, uint64])) (unregister func())
}

// errNoMetrics answers GET /metrics on an engine without Telemetry.
var errNoMetrics = errors.New("metrics are not enabled (engine.Options.Telemetry)")

// httpMetrics serves GET /metrics, which the guard lets through only
// with Telemetry (unserved).
func (e *Engine) httpMetrics(w http.ResponseWriter, r *http.Request) {
	e.opts.Telemetry.Metrics().ServeHTTP(w, r)
}

// runParent is the parent context of a run that ctx starts.
func (e *Engine) runParent(ctx context.Context) context.Context {
	if t := e.opts.Telemetry; t != nil {
		return t.Carry(ctx, runContext)
	}
	return runContext
}

// MessagingSystem is the name a broker gives its system in the spans of
// the events steps publish (OpenTelemetry's messaging.system): natsbus's
// Broker says "nats".
type MessagingSystem interface {
	MessagingSystem() string
}

// defaultMessagingSystem is messaging.system for a broker that does not
// name its own (MessagingSystem): the in-process MemoryBroker, flowgen's.
const defaultMessagingSystem = "flowgen"

// publishing is brokerPublisher.span of an engine with Telemetry t: the
// span of each event a step publishes through broker b.
func publishing(t Telemetry, b Broker) func(context.Context, string, string, string) (context.Context, func(error)) {
	if t == nil {
		return nil
	}
	system := defaultMessagingSystem
	if s, ok := b.(MessagingSystem); ok {
		system = s.MessagingSystem()
	}
	return func(ctx context.Context, topic, event, id string) (context.Context, func(error)) {
		return t.Publishing(ctx, system, topic, event, id)
	}
}

// link is what a message sent under ctx keeps of its sender (Message.Link).
func (e *Engine) link(ctx context.Context) string {
	if t := e.opts.Telemetry; t != nil {
		return t.Link(ctx)
	}
	return ""
}

// fromSender is ctx, of a delivery of a message whose sender is link
// (Message.Link), with its sender's trace (Telemetry.Sender).
func (e *Engine) fromSender(ctx context.Context, link string) context.Context {
	if t := e.opts.Telemetry; t != nil && link != "" {
		return t.Sender(ctx, link)
	}
	return ctx
}

// inject writes what a request sent under ctx carries of its trace into h.
func (e *Engine) inject(ctx context.Context, h http.Header) {
	if t := e.opts.Telemetry; t != nil {
		t.Inject(ctx, h)
	}
}

// brokerPublish hands m to the broker, and counts a refusal because the
// broker is full (Telemetry.Refused).
func (e *Engine) brokerPublish(ctx context.Context, m Message) error {
	err := e.broker.Publish(ctx, m)
	if t := e.opts.Telemetry; t != nil && errors.Is(err, ErrBrokerFull) {
		t.Refused(m.Topic, m.Event)
	}
	return err
}

// observeDelivery wraps a broker consumer's handler so that Telemetry sees
// each message's lag once, when the engine takes the message: h returns
// nil, and the broker has it acknowledged. A delivery h refuses (the
// inbox full, the runs at their bound, the store failing) comes again,
// a batch held while the inbox is full at each of the broker's retries:
// counted at each try, one message read as many, the lag's count and
// quantiles those of the tries. The lag is read as the delivery taken
// comes, before h: its time to publication, not h's work.
func observeDelivery(t Telemetry, h func(context.Context, Message) error) func(context.Context, Message) error {
	if t == nil {
		return h
	}
	return func(ctx context.Context, m Message) error {
		lag := lagOf(&m)
		if err := h(ctx, m); err != nil {
			return err
		}
		t.Delivered(m.Topic, m.Event, lag)
		return nil
	}
}

// observeDeliveries is observeDelivery for a consumer of batches: each
// message of a batch taken is counted once.
func observeDeliveries(t Telemetry, h func(context.Context, []Message) error) func(context.Context, []Message) error {
	if t == nil {
		return h
	}
	return func(ctx context.Context, ms []Message) error {
		lags := make([]time.Duration, len(ms))
		for i := range ms {
			lags[i] = lagOf(&ms[i])
		}
		if err := h(ctx, ms); err != nil {
			return err
		}
		for i := range ms {
			t.Delivered(ms[i].Topic, ms[i].Event, lags[i])
		}
		return nil
	}
}

// lagOf is m's time since its publication (Message.Published; 0 if
// unknown).
func lagOf(m *Message) time.Duration {
	if m.Published.IsZero() {
		return 0
	}
	return time.Since(m.Published) // wall clocks, the broker's and ours
}
