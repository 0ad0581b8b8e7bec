package otlp

import (
	"strings"
	"testing"
)

// The OTLP/HTTP exporter posts to the endpoint's host and path alone: a
// user:password or a query in the URL, by flag or environment, was
// dropped without a word, and the collector that wanted them refused
// every batch. Such a URL is a usage error that says where credentials
// go, and it shows no password: the error goes to the command's stderr,
// a log a password must stay out of (an unusable URL's error too).
func TestEndpointCredentialsRefused(t *testing.T) {
	for _, c := range []struct {
		flag, traces, all, name string
		unusable                bool // no http(s) URL: the error says so, not where credentials go
	}{
		{flag: "https://ann:s3cret@collector:4318/v1/traces", name: "-otlp-traces"},
		{flag: "https://collector:4318/v1/traces?api_key=s3cret", name: "-otlp-traces"},
		{flag: "ftp://ann:s3cret@collector/v1/traces", name: "-otlp-traces", unusable: true},
		{traces: "http://ann:s3cret@127.0.0.1:4318/v1/traces", name: tracesEndpointEnv},
		{all: "http://127.0.0.1:4318?token=s3cret", name: endpointEnv},
		// Unusable, and shown whole before: a URL that does not parse
		// (a bad escape, a space before the scheme), and an opaque one,
		// which url.Redacted does not redact.
		{flag: "https://ann:s3cret%zz@collector:4318/v1/traces", name: "-otlp-traces", unusable: true},
		{flag: " https://ann:s3cret@collector:4318/v1/traces", name: "-otlp-traces", unusable: true},
		{flag: "http:ann:s3cret@collector", name: "-otlp-traces", unusable: true},
		{all: "127.0.0.1:4318/v1/traces?key=s3cret", name: endpointEnv, unusable: true},
	} {
		t.Setenv(tracesEndpointEnv, c.traces)
		t.Setenv(endpointEnv, c.all)
		err := Config{Traces: c.flag, Sample: 1}.Check()
		if err == nil {
			t.Errorf("%+v: no error", c)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.name) || strings.Contains(msg, "s3cret") {
			t.Errorf("%+v: %q, want it to name %s and show no password", c, msg, c.name)
		}
		if !c.unusable && !strings.Contains(msg, headersEnv) {
			t.Errorf("%+v: %q does not say credentials go in %s", c, msg, headersEnv)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:4318/v1/traces", "https://collector.internal/v1/traces"} {
		if err := (Config{Traces: ok, Sample: 1}).Check(); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
