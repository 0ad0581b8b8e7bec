package observe

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/internal/snippet"
	"github.com/flowgen/flowgen/internal/urlpath"
	"github.com/flowgen/flowgen/observe/tracectx"
)

// MaxPathAttribute bounds the url.path attribute of a request's span, in
// bytes, and a method the conventions do not know (its
// http.request.method_original attribute): a longer one is cut there,
// with "...". The path is its sender's, as long as the server's header limit
// lets it be (64 KiB under flowgen serve), and so is the method (any
// token of the request line); any sender, with or without credentials,
// has its request traced when its traceparent says sampled: each of the
// spans waiting for export would otherwise hold that much.
const MaxPathAttribute = 1024

// Middleware traces the requests h serves: a server span per request,
// the child of the caller's span when the request carries a W3C
// traceparent, named after its method and the route that served it
// ("POST /flows/{flow}/runs"). A run the request starts is a child of this span
// (Carry). Without a TracerProvider it returns h.
//
// A request for which untraced reports true (nil: none; engine.Untraced
// for the engine's Handler: GET /metrics, the web view's files, GET
// /watch) starts no trace: it has a span only when its traceparent names
// its caller's, whose trace it belongs to. A Prometheus scrape every few
// seconds, each file of a page and each page's stream would otherwise be
// a trace of one span each, burying the runs' traces, as OpenTelemetry's
// own instrumentations leave them out by a filter.
func (t *Telemetry) Middleware(h http.Handler, untraced func(*http.Request) bool) http.Handler {
	if t.tracer == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := tracectx.Extract(r.Context(), r.Header)
		if untraced != nil && !trace.SpanContextFromContext(ctx).IsValid() && untraced(r) {
			h.ServeHTTP(w, r)
			return
		}
		method, attrs := methodAttributes(r.Method)
		attrs = append(attrs, tracectx.KeyURLPath.String(requestText(r.URL.Path)), tracectx.KeyURLScheme.String(scheme(r)))
		ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(peerAttributes(attrs, r)...))
		defer span.End()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(ctx)
		h.ServeHTTP(rec, r)
		if route := httpRoute(r.Pattern); route != "" { // set by the ServeMux that served it
			span.SetName(method + " " + route)
			span.SetAttributes(tracectx.KeyHTTPRoute.String(route))
		}
		span.SetAttributes(tracectx.KeyHTTPResponseStatusCode.Int(rec.status))
		if rec.status >= 500 {
			// The conventions' error.type of an HTTP server's failed
			// answer is its status code, which backends count a
			// route's errors by; a 4xx is the client's error. No
			// description: the conventions ask for none when the status
			// code says the reason, and http.response.status_code does.
			span.SetAttributes(tracectx.KeyErrorType.String(strconv.Itoa(rec.status)))
			span.SetStatus(codes.Error, "")
		}
	})
}

// httpRoute is the route of a ServeMux's pattern as http.route has it
// (OpenTelemetry's conventions for HTTP): the path template, from its
// first slash, without the method ("POST /runs/{id}/abort" is
// "/runs/{id}/abort"), which the span has as http.request.method. A
// route that kept the method read "POST POST /runs/{id}/abort" in a
// backend that names a server's operations by method and route.
func httpRoute(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// scheme is the url.scheme of a request as its server received it, which
// the conventions for HTTP server spans require beside url.path: "https"
// over TLS (flowgen serve -tls-cert), else "http". A proxy's own scheme,
// in front of the server, is the proxy's span's to say.
func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// peerAttributes appends to attrs what the conventions for HTTP server
// spans recommend of the two ends of a request, so that a backend can tell
// which address was asked (a service behind several names) and which
// client asked (a caller flooding the API): server.address and
// server.port from the Host header (the port of its scheme when it names
// none), client.address (the connection's peer: behind a proxy, the
// proxy's, as no Forwarded header is trusted), user_agent.original and
// network.protocol.version. The Host header and the user agent are the
// sender's text, cut as the path is.
func peerAttributes(attrs []attribute.KeyValue, r *http.Request) []attribute.KeyValue {
	if r.Host != "" {
		u := url.URL{Scheme: scheme(r), Host: r.Host}
		attrs = append(attrs, tracectx.KeyServerAddress.String(requestText(u.Hostname())))
		if port, ok := urlpath.Port(&u); ok {
			attrs = append(attrs, tracectx.KeyServerPort.Int(port))
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, tracectx.KeyClientAddress.String(host))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, tracectx.KeyUserAgentOriginal.String(requestText(ua)))
	}
	version := strconv.Itoa(r.ProtoMajor) // "2", "3"
	if r.ProtoMajor < 2 {
		version += "." + strconv.Itoa(r.ProtoMinor)
	}
	return append(attrs, tracectx.KeyNetworkProtocolVersion.String(version))
}

// methods are the request methods the conventions for HTTP know, which a
// span keeps as they are.
var methods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true,
}

// methodAttributes is a request's method as its span has it, for the
// span's name, and the attributes that say it. Any token of the request
// line is a method its sender may choose, token or not (a sampled
// traceparent has its request traced): one the conventions do not know
// is "HTTP" in the name and "_OTHER" in http.request.method, as they
// say, its text (cut, as a path is) in http.request.method_original, so
// that a sender does not choose the names of the server's spans, which
// backends group operations and their metrics by.
func methodAttributes(m string) (string, []attribute.KeyValue) {
	attrs := make([]attribute.KeyValue, 0, 10) // and url.path, url.scheme, peerAttributes
	if methods[m] {
		return m, append(attrs, tracectx.KeyHTTPRequestMethod.String(m))
	}
	return "HTTP", append(attrs, tracectx.KeyHTTPRequestMethod.String(tracectx.Other),
		tracectx.KeyHTTPRequestMethodOriginal.String(requestText(m)))
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
