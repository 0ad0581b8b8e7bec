package tracectx

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestTraceparentRoundTrip: Traceparent writes what the W3C propagator
// writes, and Parse reads it back.
func TestTraceparentRoundTrip(t *testing.T) {
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0x0a, 0xf7, 0x65, 15: 0x9c}, SpanID: trace.SpanID{0xb7, 7: 0x31}, TraceFlags: flags})
		h := http.Header{}
		Inject(trace.ContextWithSpanContext(context.Background(), sc), h)
		tp := Traceparent(sc)
		if tp != h.Get("Traceparent") {
			t.Errorf("Traceparent %q, the propagator writes %q", tp, h.Get("Traceparent"))
		}
		if got := Parse(tp); !got.Equal(sc.WithRemote(true)) {
			t.Errorf("Parse(%q) = %v, want %v", tp, got, sc)
		}
	}
	if Traceparent(trace.SpanContext{}) != "" || Parse("junk").IsValid() {
		t.Error("an invalid span context has a traceparent, or junk parses")
	}
}
