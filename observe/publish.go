package observe

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/observe/tracectx"
	"github.com/flowgen/flowgen/runtime"
)

// The values of OpenTelemetry's conventions for messaging that a
// publication's span takes: the operation's type (send: "publish" in
// conventions before 1.27) and its name, of which the span's is made.
const (
	messagingSend    = "send"
	messagingPublish = "publish"
)

// Publishing starts the producer span of an event a step publishes
// (engine.Telemetry.Publishing), under the step's attempt, as
// OpenTelemetry's conventions for messaging have it: named "publish
// <topic>", with the broker's system, the topic as its destination, the
// message's ID, and the event (flowgen.event, which no convention has).
// The message carries this span as its sender, so that a run the event
// starts is its child and a wait it wakes links to it. A publication that
// fails records its error (status Error) and its class
// (runtime.ErrorClass: the broker's errors name theirs). Without
// tracing it returns ctx.
func (t *Telemetry) Publishing(ctx context.Context, system, topic, event, id string) (context.Context, func(error)) {
	if t.tracer == nil {
		return ctx, func(error) {}
	}
	topic = tracectx.Text(topic)
	ctx, span := t.tracer.Start(ctx, messagingPublish+" "+topic, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			tracectx.KeyMessagingSystem.String(system),
			tracectx.KeyMessagingOperationType.String(messagingSend),
			tracectx.KeyMessagingOperationName.String(messagingPublish),
			tracectx.KeyMessagingDestinationName.String(topic),
			tracectx.KeyMessagingMessageID.String(tracectx.Text(id)),
			keyEvent.String(tracectx.Text(event))))
	return ctx, func(err error) {
		if err != nil {
			span.SetAttributes(tracectx.KeyErrorType.String(runtime.ErrorClass(err)))
			span.SetStatus(codes.Error, tracectx.Text(err.Error()))
		}
		span.End()
	}
}
