package observe_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/observe"
)

// A request's path is its sender's, up to the server's header limit, and
// a sender chooses to be traced (a sampled traceparent), token or not:
// its span's url.path is cut to MaxPathAttribute bytes, so that the spans
// waiting for export do not each hold 64 KiB of it.
func TestMiddlewareCutsLongPaths(t *testing.T) {
	tel, exp, _ := traced(t)
	h := tel.Middleware(http.NotFoundHandler(), nil)
	r := httptest.NewRequest("GET", "/runs/"+strings.Repeat("x", 30000), nil)
	r.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), r)
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	for _, a := range spans[0].Attributes {
		if a.Key == "url.path" {
			if v := a.Value.AsString(); len(v) > observe.MaxPathAttribute+len("...") || !strings.HasSuffix(v, "...") {
				t.Fatalf("url.path of %d bytes, want it cut to %d and ...", len(v), observe.MaxPathAttribute)
			}
			return
		}
	}
	t.Fatal("the span has no url.path")
}

// A request's method is its sender's too: any token of the request line,
// as long as the header limit lets it be. One the conventions for HTTP do
// not know names no span (TestMiddlewareRouteAndMethod), and its span
// keeps it as http.request.method_original, cut as the path is.
func TestMiddlewareCutsLongMethods(t *testing.T) {
	tel, exp, _ := traced(t)
	h := tel.Middleware(http.NotFoundHandler(), nil)
	r := httptest.NewRequest(strings.Repeat("M", 30000), "/runs", nil)
	r.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), r)
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	most := observe.MaxPathAttribute + len("...")
	if n := len(spans[0].Name); n > most {
		t.Errorf("span name of %d bytes, want at most %d", n, most)
	}
	found := false
	for _, a := range spans[0].Attributes {
		if a.Key == "http.request.method_original" {
			found = true
			if v := a.Value.AsString(); len(v) > most || !strings.HasSuffix(v, "...") {
				t.Errorf("http.request.method_original of %d bytes, want it cut to %d and ...", len(v), observe.MaxPathAttribute)
			}
		}
	}
	if !found {
		t.Error("the span has no http.request.method_original")
	}
}

// A request's path is decoded from its request line, so any sender puts
// any byte in it ("/runs/%FF"), and an OTLP exporter refuses to encode a
// batch that holds a string that is not UTF-8: the spans exported with
// such a request's (everyone's runs and steps) were lost with it. The
// span's url.path reads U+FFFD for those bytes, and the batch goes out.
func TestMiddlewarePathNotUTF8(t *testing.T) {
	tel, tp, col := otlpBatched(t)
	h := tel.Middleware(http.NotFoundHandler(), nil)
	for _, path := range []string{"/runs/a", "/runs/b%FF%FEc", "/runs/d"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Errorf("exporting the spans: %v", err)
	}
	spans, _ := col.Spans()
	var paths []string
	for _, sp := range spans {
		for _, kv := range sp.Attributes {
			if kv.Key == "url.path" {
				paths = append(paths, kv.GetValue().GetStringValue())
			}
		}
	}
	if want := []string{"/runs/a", "/runs/b\uFFFDc", "/runs/d"}; strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("the collector got the paths %q, want %q", paths, want)
	}
}
