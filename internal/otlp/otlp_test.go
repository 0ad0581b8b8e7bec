package otlp

import (
	"context"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowgen/flowgen/internal/otlp/otlptest"
)

// TestServiceName: the spans' service.name is "flowgen" unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES says otherwise
// (docs/observability.md, "Turning it on").
func TestServiceName(t *testing.T) {
	col := httptest.NewServer(&otlptest.Collector{})
	defer col.Close()
	for _, c := range []struct{ name, env, value, want string }{
		{"default", "", "", ServiceName},
		{"OTEL_SERVICE_NAME", "OTEL_SERVICE_NAME", "billing", "billing"},
		{"OTEL_RESOURCE_ATTRIBUTES", "OTEL_RESOURCE_ATTRIBUTES", "service.name=signup,team=a", "signup"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", "")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
			if c.env != "" {
				t.Setenv(c.env, c.value)
			}
			tp, stop, err := Config{Traces: col.URL + "/v1/traces", Sample: 1}.Provider(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer stop(context.Background())
			_, span := tp.Tracer("test").Start(context.Background(), "s")
			defer span.End()
			got := ""
			for _, kv := range span.(sdktrace.ReadOnlySpan).Resource().Attributes() {
				if kv.Key == "service.name" {
					got = kv.Value.AsString()
				}
			}
			if got != c.want {
				t.Errorf("service.name %q, want %q", got, c.want)
			}
		})
	}
}
