package ui_test

// A flow's diagram refused (403) to a role that may still read it (an
// authorizer of the operator's own, here a proxy in front of the API
// standing for it) leaves its card saying so, not "loading" for ever.

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserFlowDiagramRefused(t *testing.T) {
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		return forbidding(h, func(r *http.Request) bool { return r.URL.Path == "/flows/Order/diagram" }, "engine: forbidden: not this flow")
	})
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/flows", clientToken, true)
	run(t, ctx, "another flow's diagram", flowShows("Refund", "svg"))
	run(t, ctx, "the refusal said", poll(`(() => {
		document.querySelector('section[data-flow="Order"]').scrollIntoView({block: "nearest"});
		const b = document.querySelector('section[data-flow="Order"] .diagram');
		return !b.hasAttribute("aria-busy") || document.querySelector("#notice").textContent.includes("not this flow");
	})()`))
	shot(t, ctx, "refused")
	box := get(t, ctx, "the card's box", chromedp.Evaluate[[]string](`(() => {
		const b = document.querySelector('section[data-flow="Order"] .diagram');
		return [b.textContent, String(b.getAttribute("aria-busy"))];
	})()`))
	if !strings.HasPrefix(box[0], "No diagram: ") || !strings.Contains(box[0], "not this flow") || box[1] != "null" {
		t.Errorf("the refused diagram's box says %q, aria-busy %s: want why there is no diagram, not busy", box[0], box[1])
	}
}

// A run's diagram refused (403) to a role that may still read it leaves
// the run's diagram box saying why, as a flow's card does, not empty.
func TestBrowserRunDiagramRefused(t *testing.T) {
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		return forbidding(h, func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/diagram") && strings.HasPrefix(r.URL.Path, "/runs/")
		},
			"engine: forbidden: not this run's diagram")
	})
	ctx := browser(t)
	id := v.start("Order", `{"Item": "lamp"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "the refusal said", chromedp.WaitReady(chromedp.CSS("#run-head[data-state]")),
		poll(`document.querySelector("#notice").textContent.includes("not this run's diagram")`))
	shot(t, ctx, "refused")
	if got := get(t, ctx, "the diagram's box", textOf("#run-diagram")); !strings.HasPrefix(got, "No diagram: ") || !strings.Contains(got, "not this run's diagram") {
		t.Errorf("the refused diagram's box says %q: want why there is no diagram", got)
	}
}

// forbidding serves h, but answers each request that refused picks with
// an authorizer's 403, its error reason.
func forbidding(h http.Handler, refused func(*http.Request) bool, reason string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error": ` + strconv.Quote(reason) + `}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}
