package ui_test

// The flows page reads a flow's diagram (GET /flows/{flow}/diagram) once
// its card comes into view, not every flow's when it opens: a server of
// many flows got as many requests at once, for diagrams far below the
// window.

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// manyFlows is the source of n flows, Zmany00 to Zmany(n-1), after the
// shop's in GET /flows's order (by name).
func manyFlows(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "flow Zmany%02d {\n    state ManyState%02d\n\n    step Note {\n        publish log \"note\" (K)\n        irreversible\n    }\n}\n\n", i, i)
	}
	return b.String()
}

// diagramReads counts the requests for each flow's diagram a server sees.
type diagramReads struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *diagramReads) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if flow, ok := strings.CutPrefix(r.URL.Path, "/flows/"); ok && strings.HasSuffix(flow, "/diagram") {
			d.mu.Lock()
			d.n[strings.TrimSuffix(flow, "/diagram")]++
			d.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (d *diagramReads) counts() (flows, requests int, of func(string) int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := map[string]int{}
	for f, n := range d.n {
		m[f] = n
		requests += n
	}
	return len(m), requests, func(f string) int { return m[f] }
}

func TestBrowserFlowsReadDiagramsInView(t *testing.T) {
	reads := &diagramReads{n: map[string]int{}}
	v := newEnvWith(t, true, 0, reads.wrap)
	const many = 30
	if ds, err := v.e.LoadFlows("many.flow", []byte(manyFlows(many))); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	ctx := browser(t)
	run(t, ctx, "a small window", chromedp.EmulateViewport(800, 600))
	signIn(t, ctx, v.url+"/ui/#/flows", clientToken, true)
	total := get(t, ctx, "the cards", chromedp.Evaluate[int](`new Promise(r => { const n = () => { const c = document.querySelectorAll("section.flow-card").length; c ? r(c) : setTimeout(n, 20); }; n(); })`, chromedp.EvalAwaitPromise))
	if total < many {
		t.Fatalf("the page shows %d flows, want at least %d", total, many)
	}
	run(t, ctx, "the first card's diagram", chromedp.WaitReady(chromedp.CSS(`section.flow-card:first-child svg`)))
	shot(t, ctx, "1-top")
	last := fmt.Sprintf("Zmany%02d", many-1)
	run(t, ctx, "the last card in view", js(`document.querySelector("section.flow-card:last-child").scrollIntoView()`),
		chromedp.WaitReady(chromedp.CSS(`section[data-flow="`+last+`"] svg .fg-step[data-step="Note"]`)))
	shot(t, ctx, "2-bottom")
	flows, requests, of := reads.counts()
	if of(last) != 1 {
		t.Errorf("the last flow's diagram was read %d times, want once", of(last))
	}
	// The first window's cards and the last one's: a few each.
	if flows > total/2 || requests != flows {
		t.Errorf("the page read %d diagrams of %d flows (%d cards), want only those of the cards shown, once each", requests, flows, total)
	}
	t.Logf("%d diagrams read, of %d flows", requests, flows)
	drawn := get(t, ctx, "the diagrams drawn", chromedp.Evaluate[int](`document.querySelectorAll("section.flow-card svg").length`))
	if drawn != flows {
		t.Errorf("the page drew %d diagrams, read %d", drawn, flows)
	}
}
