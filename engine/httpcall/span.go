package httpcall

// The attributes of a call's client span, by OpenTelemetry's semantic
// conventions for HTTP client spans (their keys: tracectx's): the
// request's method, where it went (url.full shown as a log line shows a
// URL: urlpath.Shown), the answer's status, and error.type when the call
// failed.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/internal/urlpath"
	"github.com/flowgen/flowgen/observe/tracectx"
	"github.com/flowgen/flowgen/runtime"
)

// The error.type values of failures that are not an HTTP status.
const (
	// errTypeOther: the call failed before any request was sent (the
	// service not resolved, the request not encoded, the endpoint
	// refused): the conventions' fallback, the runtime's home of it.
	errTypeOther = runtime.ErrorClassOther
	// errTypeTimeout: the attempt's deadline ended the request.
	errTypeTimeout = "timeout"
	// errTypeCanceled: the request's context was cancelled (an abort, a
	// shutdown).
	errTypeCanceled = "canceled"
	// errTypeRedirect: a redirect refused (ErrRedirect, ErrRedirectMethod).
	errTypeRedirect = "redirect"
	// errTypeTooLarge: a 2xx answer larger than Limits.MaxResponseBytes.
	errTypeTooLarge = "response_too_large"
	// errTypeInvalid: a 2xx answer whose body does not decode.
	errTypeInvalid = "invalid_response"
)

// callSpan is a call's client span and what it learns of the call.
type callSpan struct {
	span    trace.Span
	status  int    // the answer's status; 0 while none came
	errType string // error.type of a failure, when the end does not tell it by status
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
	s.status = status
	if s.span.IsRecording() { // the attribute would escape to the heap for nothing
		s.span.SetAttributes(tracectx.KeyHTTPResponseStatusCode.Int(status))
	}
}

// transportFailed records why a request sent under ctx got no answer, or
// its answer could not be read (err from the client or the body).
func (s *callSpan) transportFailed(ctx context.Context, err error) {
	if !s.span.IsRecording() {
		return
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrRedirect) || errors.Is(err, ErrRedirectMethod):
		s.errType = errTypeRedirect
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		s.errType = errTypeTimeout
	case ctx.Err() != nil:
		s.errType = errTypeCanceled
	default:
		// The Go type of the cause, as the conventions ask of a language
		// whose errors have no class and as otelhttp does: "*net.OpError"
		// (refused, reset), "*net.DNSError"; runtime.ErrorClass looks past
		// the *url.Error that http.Client wraps every error in, which
		// tells nothing, as a step's span does.
		s.errType = runtime.ErrorClass(err)
	}
}

// end ends the span, failed with err if not nil, with its error.type: the
// one recorded, else the status of an answer that was not 2xx, else
// errTypeOther.
func (s *callSpan) end(err error) {
	if err != nil && s.span.IsRecording() {
		t := s.errType
		if t == "" && s.status != 0 && (s.status < 200 || s.status > 299) {
			t = strconv.Itoa(s.status)
		}
		if t == "" {
			t = errTypeOther
		}
		s.span.SetAttributes(tracectx.KeyErrorType.String(t))
	}
	tracectx.End(s.span, err)
}
