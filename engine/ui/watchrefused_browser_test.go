package ui_test

// The live stream refused (403) to a role that may still follow it (an
// authorizer of the operator's own, here a proxy in front of the API
// standing for it): opened again, it would be refused again, the session
// read again each time, for ever. The view reads what it shows every few
// seconds instead, as on a server with no stream, the badge saying so.

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserWatchRefusedPolls(t *testing.T) {
	var watches atomic.Int32
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		h = forbidding(h, func(r *http.Request) bool { return r.URL.Path == "/watch" }, "engine: forbidden: no streams for you")
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/watch" {
				watches.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, false)
	// The page's own log of its requests answered says how often it
	// asked for the stream.
	run(t, ctx, "polling, or the stream tried again", poll(`performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname === "/watch").length > 1 ||
		document.querySelector("#live").textContent === "polling"`))
	shot(t, ctx, "refused")
	if n := watches.Load(); n != 1 {
		t.Errorf("the page asked for GET /watch %d times, want once", n)
	}
	badge := get(t, ctx, "the badge", chromedp.Evaluate[[]string](`[document.querySelector("#live").textContent, document.querySelector("#live").title]`))
	if badge[0] != "polling" || !strings.Contains(badge[1], "no streams for you") {
		t.Errorf("the badge says %q (%q), want polling, saying why the stream was refused", badge[0], badge[1])
	}
	// The view reads what it shows, without the stream: a run started
	// now is listed.
	id := v.start("Order", `{"Item": "lamp"}`)
	run(t, ctx, "the run listed", chromedp.WaitReady(chromedp.CSS(`#runs tr[data-run="`+id+`"]`)))
}
