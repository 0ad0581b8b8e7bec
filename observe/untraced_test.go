package observe_test

import (
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/flowgen/flowgen/engine"
)

// A Prometheus scrape (GET /metrics), the web view's files (GET /ui/...)
// and its streams (GET /watch) start no trace through the engine's
// Handler behind the middleware (engine.Untraced): each was a trace of one
// span, a scrape every few seconds burying the runs'. An API request is
// traced, and so is any of them that carries a traceparent: its caller
// asked for it, and the span is in the caller's trace.
func TestMiddlewareLeavesScrapesAndFilesUntraced(t *testing.T) {
	tel, exp, _ := traced(t)
	srv, stop := signupEngine(t, tel, newSignupService())
	const caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	get := func(path, traceparent string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
		if path != "/watch" { // a stream: closing it ends it
			_, _ = io.ReadAll(res.Body)
		}
		res.Body.Close()
	}
	// GET /ui redirects to /ui/, which the client follows with its
	// headers: two spans in the caller's trace.
	quiet := []string{"/metrics", "/ui", "/ui/", "/ui/app.js", "/watch"}
	for _, p := range quiet {
		get(p, "")
	}
	get("/runs", "")
	for _, p := range quiet {
		get(p, caller)
	}
	stop() // the streams' spans end with them
	var untraced, inCaller []string
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() == "0af7651916cd43dd8448eb211c80319c" {
			inCaller = append(inCaller, s.Name+" "+attr(s, "url.path"))
		} else {
			untraced = append(untraced, s.Name+" "+attr(s, "url.path"))
		}
	}
	slices.Sort(inCaller)
	if want := []string{"GET /runs /runs"}; !slices.Equal(untraced, want) {
		t.Errorf("spans of requests without a traceparent: %q, want %q", untraced, want)
	}
	if want := []string{"GET /metrics /metrics", "GET /ui /ui", "GET /ui/ /ui/", "GET /ui/ /ui/", "GET /ui/ /ui/app.js", "GET /watch /watch"}; !slices.Equal(inCaller, want) {
		t.Errorf("spans in the caller's trace: %q, want %q", inCaller, want)
	}
	for _, p := range append(quiet, "/runs/r1", "/nowhere") {
		r, _ := http.NewRequest("GET", p, nil)
		if got, want := engine.Untraced(r), slices.Contains(quiet, p); got != want {
			t.Errorf("engine.Untraced(GET %s) = %v, want %v", p, got, want)
		}
	}
}
