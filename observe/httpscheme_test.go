package observe_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A request's span has url.scheme, which OpenTelemetry's conventions for
// HTTP servers require beside url.path: "http", or "https" for a request
// that came over TLS (flowgen serve -tls-cert). Without it a backend that
// builds the request's URL from the span, or filters by scheme, had none.
func TestMiddlewareURLScheme(t *testing.T) {
	tel, exp, _ := traced(t)
	h := tel.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	for _, c := range []struct {
		tls    bool
		scheme string
	}{{false, "http"}, {true, "https"}} {
		exp.Reset()
		r := httptest.NewRequest(http.MethodGet, "/runs", nil)
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		spans := exp.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("%d spans, want 1", len(spans))
		}
		if got := attr(spans[0], "url.scheme"); got != c.scheme {
			t.Errorf("TLS %v: url.scheme %q, want %q", c.tls, got, c.scheme)
		}
	}
}
