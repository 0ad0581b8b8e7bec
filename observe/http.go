package observe

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/internal/snippet"
	"github.com/flowgen/flowgen/observe/tracectx"
)

// MaxPathAttribute bounds the url.path attribute of a request's span, in
// bytes, and its method (the http.request.method attribute, and the
// span's name when no route served it): a longer one is cut there, with
// "...". The path is its sender's, as long as the server's header limit
// lets it be (64 KiB under flowgen serve), and so is the method (any
// token of the request line); any sender, with or without credentials,
// has its request traced when its traceparent says sampled: each of the
// spans waiting for export would otherwise hold that much.
const MaxPathAttribute = 1024

// Middleware traces the requests h serves: a server span per request,
// the child of the caller's span when the request carries a W3C
// traceparent, named after the route that served it ("POST
// /flows/{flow}/runs"). A run the request starts is a child of this span
// (Carry). Without a TracerProvider it returns h.
func (t *Telemetry) Middleware(h http.Handler) http.Handler {
	if t.tracer == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := tracectx.Extract(r.Context(), r.Header)
		method := requestText(r.Method)
		ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("url.path", requestText(r.URL.Path))))
		defer span.End()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(ctx)
		h.ServeHTTP(rec, r)
		if r.Pattern != "" { // set by the ServeMux that served it
			span.SetName(r.Pattern)
			span.SetAttributes(attribute.String("http.route", r.Pattern))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
	})
}

// requestText is a request's own text (its method, its path) as its span
// has it: UTF-8 (tracectx.Text: the path is decoded from the request
// line, so any sender puts any byte in it, "/runs/%FF"), cut to
// MaxPathAttribute bytes.
func requestText(s string) string {
	return snippet.Cut(tracectx.Text(s), MaxPathAttribute)
}

// statusWriter keeps the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the writer's own methods
// (Flush for server-sent events).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
