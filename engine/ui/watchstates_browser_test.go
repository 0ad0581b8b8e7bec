package ui_test

// The web view reads a run's state from GET /runs/{id} and, for the row
// picked, from its history; of a live event it reads only which run moved
// (or which flow was defined). A stream that carried each event's state,
// up to the megabytes a service may answer into it, would send every open
// page every run's state at every step, and have the engine queue them for
// it.

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// countingWriter counts the bytes written to a response.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	c.n.Add(int64(len(b)))
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer's Flush and write
// deadlines.
func (c countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func TestBrowserWatchCarriesNoStates(t *testing.T) {
	var streamed atomic.Int64
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/watch" {
				w = countingWriter{w, &streamed}
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := browser(t)
	const stateBytes = 200_000
	id := v.start("Order", `{"Item": "`+strings.Repeat("x", stateBytes)+`"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "the run waits on Reserve", chromedp.WaitReady(chromedp.CSS(current("Reserve"))))
	v.gates.release("Stock.Reserve")
	v.gates.release("Pay.Charge")
	run(t, ctx, "the run shown done, live", chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)))
	if n := streamed.Load(); n >= stateBytes {
		t.Errorf("the page's GET /watch streams carried %d bytes for a run whose state is %d bytes: the states of its events, which the page never reads from them", n, stateBytes)
	}
}
