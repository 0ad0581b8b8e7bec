package otlp

import (
	"strings"
	"testing"
)

// A traces endpoint, by flag or by OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// is posted to as it is: without a path (the collector's address, as
// OTEL_EXPORTER_OTLP_ENDPOINT takes it, to which the exporter appends
// /v1/traces), the spans went to "/", which a collector answers 404, and
// the server said so only once the first batch failed. It is a usage
// error naming the flag or the variable and the URL to give; "/" given on
// purpose, and the general variable without a path, are taken.
func TestTracesEndpointNeedsPath(t *testing.T) {
	for _, c := range []struct {
		flag, traces, all string
		want              string // "" when taken
	}{
		{flag: "http://127.0.0.1:4318", want: "-otlp-traces"},
		{flag: "https://collector.internal:4318", want: "-otlp-traces"},
		{traces: "http://127.0.0.1:4318", want: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{flag: "http://127.0.0.1:4318/v1/traces"},
		{flag: "http://127.0.0.1:4318/"},
		{traces: "http://127.0.0.1:4318/v1/traces"},
		{all: "http://127.0.0.1:4318"},
	} {
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", c.traces)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.all)
		t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")
		err := Config{Traces: c.flag, Sample: 1}.Check()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v, want it taken", c, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want+" ") || !strings.Contains(err.Error(), "/v1/traces")):
			t.Errorf("%+v: %v, want an error naming %s and the URL with /v1/traces", c, err, c.want)
		}
	}
}
