package httpcall

// The attributes of a call's client span, by OpenTelemetry's semantic
// conventions for HTTP client spans (their keys: tracectx's): the
// request's method, where it went (url.full shown as a log line shows a
// URL: urlpath.Shown), the answer's status, and error.type when the call
// failed.

import (
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/internal/urlpath"
	"github.com/flowgen/flowgen/observe/tracectx"
	"github.com/flowgen/flowgen/runtime"
)

// The error.type values of a call's own failures, which its errors carry
// (StatusError's is its status, CallError's its cause's class).
const (
	// errTypeRedirect: a redirect refused (ErrRedirect, ErrRedirectMethod).
	errTypeRedirect = "redirect"
	// errTypeTooLarge: a 2xx answer larger than Limits.MaxResponseBytes.
	errTypeTooLarge = "response_too_large"
	// errTypeInvalid: a 2xx answer whose body does not decode.
	errTypeInvalid = "invalid_response"
)

// callSpan is a call's client span and what it learns of the call.
type callSpan struct {
	span trace.Span
}

// request records the request the call sends to u, when the span records
// anything: no URL is parsed or shown for a span nobody sees.
func (s *callSpan) request(u string) {
	if !s.span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{tracectx.KeyHTTPRequestMethod.String(http.MethodPost), tracectx.KeyURLFull.String(urlpath.Shown(u))}
	if pu, err := url.Parse(u); err == nil {
		attrs = append(attrs, tracectx.KeyServerAddress.String(pu.Hostname()))
		if port, ok := urlpath.Port(pu); ok {
			attrs = append(attrs, tracectx.KeyServerPort.Int(port))
		}
	}
	s.span.SetAttributes(attrs...)
}

// response records the answer's status.
func (s *callSpan) response(status int) {
	if s.span.IsRecording() { // the attribute would escape to the heap for nothing
		s.span.SetAttributes(tracectx.KeyHTTPResponseStatusCode.Int(status))
	}
}

// end ends the span, failed with err if not nil, with its error.type: the
// class of err (runtime.ErrorClass), the one the failed step's span takes
// too. The call's errors carry theirs: the status of an answer that was
// not 2xx (StatusError), what ended a request without one (CallError),
// response_too_large, invalid_response; an error before any request (the
// service not resolved) has its own, or "_OTHER".
func (s *callSpan) end(err error) {
	if err != nil && s.span.IsRecording() {
		s.span.SetAttributes(tracectx.KeyErrorType.String(runtime.ErrorClass(err)))
	}
	tracectx.End(s.span, err)
}
