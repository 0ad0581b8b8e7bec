package otlp

import (
	"strings"
	"testing"
)

// The exporter reads its headers from OTEL_EXPORTER_OTLP_HEADERS and
// OTEL_EXPORTER_OTLP_TRACES_HEADERS as key=value pairs; an entry that is
// not one (a credential written as an HTTP header, "authorization: Bearer
// ..."; a value with a stray "%") it dropped, and printed to stderr,
// token and all, and the server started to send every batch without it.
// With tracing on, such a variable is a usage error that names it and
// the entry's place, and shows no part of the entry; with tracing off
// the variables are not read.
func TestHeadersChecked(t *testing.T) {
	for _, c := range []struct{ headers, traces, want string }{
		{headers: "authorization: Bearer s3cret", want: headersEnv},
		{headers: "x-team=a,authorization Bearer s3cret", want: headersEnv},
		{traces: "authorization=Bearer s3cret%zz", want: "OTEL_EXPORTER_OTLP_TRACES_HEADERS"},
		{traces: "auth s3cret:x=y", want: "OTEL_EXPORTER_OTLP_TRACES_HEADERS"},
		{headers: "authorization=Bearer s3cret,", want: headersEnv},
	} {
		t.Setenv(headersEnv, c.headers)
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", c.traces)
		err := Config{Traces: "http://127.0.0.1:4318/v1/traces", Sample: 1}.Check()
		if err == nil {
			t.Errorf("%+v: no error", c)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "s3cret") {
			t.Errorf("%+v: %q, want it to name %s and show no part of the entry", c, msg, c.want)
		}
		// Without an endpoint, no tracing: the headers go unread.
		t.Setenv(tracesEndpointEnv, "")
		t.Setenv(endpointEnv, "")
		if err := (Config{Sample: 1}).Check(); err != nil {
			t.Errorf("%+v, tracing off: %v", c, err)
		}
	}
	for _, ok := range []string{"authorization=Bearer s3cret", " authorization = Bearer%20s3cret , x-team=a%2Cb "} {
		t.Setenv(headersEnv, ok)
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")
		if err := (Config{Traces: "http://127.0.0.1:4318/v1/traces", Sample: 1}).Check(); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
