package engine

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// An engine whose runs execute on an Executor (flowgen-temporal serve)
// records none of their events: they are recorded where the runs execute
// (on Temporal, in workflows that any serve process may work on), so a
// GET /watch stream here would stay open and silent while the runs
// change, and the web view's badge would read "live" over a page that
// never moves. GET /watch says so (404, with the reason), and GET /session
// does not list it, so that the web view reads the runs again instead.
func TestWatchOffWithAnExecutor(t *testing.T) {
	e, err := New(Options{Executor: &cutShortExecutor{}})
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	t.Cleanup(c.srv.Close) // after openWatch's cleanup closes a stream it opened
	t.Cleanup(e.EndWatches)
	if _, res := openWatch(t, c.srv.URL, "", ""); res.StatusCode != 404 {
		t.Fatalf("GET /watch = %d; want 404", res.StatusCode)
	}
	status, body := c.do("GET", "/watch", "") // not a stream: a JSON error
	if msg, _ := body["error"].(string); status != 404 || !strings.Contains(msg, "Executor") {
		t.Errorf("GET /watch = %d %v; want 404 saying the runs execute on the executor", status, body)
	}
	status, body = c.do("GET", "/session", "")
	routes, _ := body["routes"].([]any)
	if status != 200 || len(routes) == 0 || slices.Contains(routes, any("GET /watch")) {
		t.Errorf("GET /session = %d, routes %v; want the routes without GET /watch", status, routes)
	}

	// On the engine's own runtime both are there.
	fx := newFixture(t)
	own := apiClient{t, httptest.NewServer(fx.start().Handler())}
	defer fx.stop()
	defer own.srv.Close()
	_, body = own.do("GET", "/session", "")
	if routes, _ := body["routes"].([]any); !slices.Contains(routes, any("GET /watch")) {
		t.Errorf("GET /session of an engine with its own runs: routes %v; want GET /watch", routes)
	}
}
