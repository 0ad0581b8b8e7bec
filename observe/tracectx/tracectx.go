// Package tracectx carries W3C trace context (traceparent, tracestate)
// across flowgen's process boundaries: into the HTTP requests of rpc steps
// (engine/httpcall), into and out of broker messages (engine/natsbus),
// into remote providers' calls (observe.Telemetry.Inject for the engine's
// HTTP calls, engine/provider/natsprovider for its NATS ones) and out of
// them (Extract, as engine/provider's Options.Extract),
// from incoming API requests, and into a run's history (runtime.Event.Trace,
// and runtime.Event.Link: the sender of the event that woke a wait).
// It is the one place that chooses the propagation format, and that
// makes the texts a span takes from outside UTF-8 (Text, Fail). It links
// only the OpenTelemetry API: a program that configures no tracer pays a
// context lookup per call and carries nothing, since a context without a
// span has no trace context to inject.
package tracectx

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator is the W3C Trace Context format, and nothing else: flowgen
// carries no baggage.
var propagator = propagation.TraceContext{}

// Inject writes the trace context of ctx's span, if any, into h.
func Inject(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// Extract returns ctx with the remote span context that h carries, if any.
func Extract(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Traceparent returns the W3C traceparent of sc ("" when sc is not valid):
// the form runtime.Event.Trace records.
func Traceparent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	// The version 00 form, as propagation.TraceContext writes it (a test
	// checks they agree), without its map and context.
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// Of returns the W3C traceparent of ctx's span ("" without one).
func Of(ctx context.Context) string { return Traceparent(trace.SpanContextFromContext(ctx)) }

// Parse returns the span context of a W3C traceparent; it is not valid
// for anything else.
func Parse(traceparent string) trace.SpanContext {
	ctx := propagator.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	return trace.SpanContextFromContext(ctx)
}

// Carry returns to with the span context of from's span, if it has one: a
// run started by a request continues its trace without keeping the
// request's context (its cancellation, its other values).
func Carry(from, to context.Context) context.Context {
	if sc := trace.SpanContextFromContext(from); sc.IsValid() {
		return trace.ContextWithSpanContext(to, sc)
	}
	return to
}

// ClientSpan starts a client span named name under ctx's span, with the
// tracer provider of that span: a call made outside a traced span starts
// none (the provider of "no span" records nothing). The caller ends it.
func ClientSpan(ctx context.Context, name, scope string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, trace.SpanFromContext(context.Background()) // a no-op span
	}
	return parent.TracerProvider().Tracer(scope).Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// End ends span, marking it failed with err if err is not nil (Fail).
func End(span trace.Span, err error) {
	if err != nil {
		Fail(span, err)
	}
	span.End()
}
