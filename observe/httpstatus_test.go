package observe_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/codes"
)

// A request's span says an answer of 5xx failed, as OpenTelemetry's
// conventions for HTTP servers ask: status Error and error.type the
// status code ("503"), which backends count a route's errors by; an
// answer of 4xx is the client's error, not the server's: neither. The
// span had status Error and no error.type. The status has no
// description, as the conventions ask when the status code gives the
// reason: it had the status's text, "Service Unavailable".
func TestMiddlewareServerErrorType(t *testing.T) {
	tel, exp, _ := traced(t)
	for _, c := range []struct {
		status    int
		errorType string
		code      codes.Code
	}{
		{http.StatusOK, "", codes.Unset},
		{http.StatusNotFound, "", codes.Unset},
		{http.StatusInternalServerError, "500", codes.Error},
		{http.StatusServiceUnavailable, "503", codes.Error},
	} {
		exp.Reset()
		h := tel.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(c.status) }), nil)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/runs", nil))
		spans := exp.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("status %d: %d spans, want 1", c.status, len(spans))
		}
		s := spans[0]
		if attr(s, "error.type") != c.errorType || s.Status.Code != c.code || s.Status.Description != "" || attr(s, "http.response.status_code") != strconv.Itoa(c.status) {
			t.Errorf("status %d: span status %v, attributes %v; want error.type %q and status %v with no description", c.status, s.Status, s.Attributes, c.errorType, c.code)
		}
	}
}
