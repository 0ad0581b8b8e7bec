package observe_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A request's span follows OpenTelemetry's conventions for HTTP servers:
// http.route is the path template of the route that served it, without
// the method (which is http.request.method), and the span is named after
// both. A route that kept the ServeMux's method ("POST /runs/{id}/abort")
// read "POST POST /runs/{id}/abort" in a backend that names operations
// by method and route, and a HEAD served by a GET route was named GET.
// A method the conventions do not know is a sender's choice: it names no
// span ("HTTP", http.request.method "_OTHER", its text in
// http.request.method_original).
func TestMiddlewareRouteAndMethod(t *testing.T) {
	tel, exp, _ := traced(t)
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mux.Handle("POST /runs/{id}/abort", ok)
	mux.Handle("GET /ui/", ok)
	mux.Handle("/any", ok)
	h := tel.Middleware(mux, nil)
	for _, c := range []struct{ method, path, name, route, attrMethod, original string }{
		{"POST", "/runs/r1/abort", "POST /runs/{id}/abort", "/runs/{id}/abort", "POST", ""},
		{"HEAD", "/ui/", "HEAD /ui/", "/ui/", "HEAD", ""},
		{"BREW", "/any", "HTTP /any", "/any", "_OTHER", "BREW"},
		{"BREW", "/nowhere", "HTTP", "", "_OTHER", "BREW"},
		{"GET", "/nowhere", "GET", "", "GET", ""},
	} {
		exp.Reset()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.path, nil))
		spans := exp.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("%s %s: %d spans, want 1", c.method, c.path, len(spans))
		}
		s := spans[0]
		if s.Name != c.name || attr(s, "http.route") != c.route || attr(s, "http.request.method") != c.attrMethod ||
			attr(s, "http.request.method_original") != c.original {
			t.Errorf("%s %s: span %q with %v, want %q, http.route %q, http.request.method %q, http.request.method_original %q",
				c.method, c.path, s.Name, s.Attributes, c.name, c.route, c.attrMethod, c.original)
		}
	}
}
