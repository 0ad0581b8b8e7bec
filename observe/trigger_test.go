package observe_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime/store"
)

// publishTrigger: Notify's step Tell publishes orders/placed, which starts
// a run of Placed.
const publishTrigger = `{"version": 1, "flows": [
 {"name": "Placed", "triggers": [{"kind": "event", "topic": "orders", "event": "placed"}],
  "steps": [{"name": "Log", "action": {"kind": "go"}}]},
 {"name": "Notify",
  "steps": [{"name": "Tell", "action": {"kind": "publish", "topic": "orders", "event": "placed"}, "irreversible": true}]}]}`

// TestInProcessTriggerContinuesThePublisherTrace: a run started by an
// event a step published through the in-process broker (which carries no
// trace context in its deliveries, only Message.Link) is a child of the
// publishing step's span, as over NATS.
func TestInProcessTriggerContinuesThePublisherTrace(t *testing.T) {
	tel, exp, _ := traced(t)
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Broker: engine.NewMemoryBroker(), Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Placed.Log", func(context.Context, *engine.State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("trigger.json", []byte(publishTrigger)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	startEngine(t, e)
	if _, err := e.StartRun(context.Background(), "Notify", json.RawMessage(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	// Placed's run can end before Tell's span does: the broker hands the
	// event over while Tell is still publishing. Wait for both.
	for deadline := time.Now().Add(10 * time.Second); len(spansNamed(exp, "run Placed")) == 0 || len(spansNamed(exp, "step Tell")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no run of Placed and step Tell ended:\n%s", tree(exp.GetSpans()))
		}
	}
	// The event's sender is the publication's producer span, under the
	// step (OpenTelemetry's conventions for messaging: a consumer's
	// spans follow the producer's), which names the topic.
	tell, placed := oneSpan(t, exp, "step Tell"), oneSpan(t, exp, "run Placed")
	for deadline := time.Now().Add(10 * time.Second); len(spansNamed(exp, "publish orders")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no span of the publication:\n%s", tree(exp.GetSpans()))
		}
	}
	pub := oneSpan(t, exp, "publish orders")
	if pub.Parent.SpanID() != tell.SpanContext.SpanID() || pub.SpanKind != trace.SpanKindProducer ||
		attr(pub, "messaging.destination.name") != "orders" || attr(pub, "flowgen.event") != "placed" || attr(pub, "messaging.system") != "flowgen" {
		t.Errorf("publish span: parent %v, kind %v, attributes %v; want a producer span under the step %v naming the topic", pub.Parent, pub.SpanKind, pub.Attributes, tell.SpanContext)
	}
	if placed.Parent.SpanID() != pub.SpanContext.SpanID() || placed.SpanContext.TraceID() != tell.SpanContext.TraceID() {
		t.Errorf("run Placed has parent %v, want the publication's span %v\n%s", placed.Parent, pub.SpanContext, tree(exp.GetSpans()))
	}
}
