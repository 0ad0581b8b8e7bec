package ui_test

// A run's diagram not read yet (a large flow's layout takes a while, a
// slow proxy) reads "loading the diagram…", busy to a screen reader, as a
// flow's card does, not an empty box; drawn, it is busy no more.

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserRunDiagramLoading(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/runs/") && strings.HasSuffix(r.URL.Path, "/diagram") {
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := browser(t)
	id := v.start("Order", `{"Item": "lamp"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "the run's head", chromedp.WaitReady(chromedp.CSS("#run-head[data-state]")))
	shot(t, ctx, "loading")
	box := get(t, ctx, "the diagram's box", chromedp.Evaluate[[]string](`(() => {
		const b = document.querySelector("#run-diagram");
		return [b.textContent, String(b.getAttribute("aria-busy"))];
	})()`))
	if box[0] != "loading the diagram\u2026" || box[1] != "true" {
		t.Errorf("the diagram's box, not read yet, says %q, aria-busy %s: want it loading, busy", box[0], box[1])
	}
	free()
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))))
	if busy := get(t, ctx, "busy", chromedp.Evaluate[bool](`document.querySelector("#run-diagram").hasAttribute("aria-busy")`)); busy {
		t.Error("the diagram drawn, its box is still busy")
	}
}
