package ui_test

// A flow's diagram taller than its box is not cut off: a user in a
// window of a laptop's size reaches every box of it by scrolling the box
// (the web view) or the page (`flowgen graph -format html`); and the
// screenshots the tests save show it whole.

import (
	"bytes"
	"image/png"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// unreachable scrolls each box of the diagram in the element sel selects
// into view, as a user would scroll to it, and answers those not then
// wholly seen (from its start, one longer than the room it has) in their
// scrolling boxes and in the window.
func unreachable(sel string) chromedp.Action[[]string] {
	return chromedp.Evaluate[[]string](`(() => {
		const root = document.querySelector(` + strconv.Quote(sel) + `), bad = [];
		const nodes = root.querySelectorAll(".fg-node");
		if (nodes.length === 0) return ["no boxes"];
		for (const g of nodes) {
			g.scrollIntoView({block: "nearest", inline: "nearest"});
			const r = g.getBoundingClientRect();
			// Seen in [lo, hi] along one axis: whole, or, a box longer
			// than the room, from its start.
			const fits = (a, z, lo, hi) => z - a <= hi - lo + 0.5 ? a >= lo - 0.5 && z <= hi + 0.5 : a >= lo - 0.5 && a < hi;
			let seen = fits(r.top, r.bottom, 0, window.innerHeight) && fits(r.left, r.right, 0, window.innerWidth);
			for (let p = g.parentElement; p && seen; p = p.parentElement) {
				const o = getComputedStyle(p);
				if (o.overflowX === "visible" && o.overflowY === "visible") continue;
				const b = p.getBoundingClientRect();
				seen = fits(r.top, r.bottom, b.top, b.bottom) && fits(r.left, r.right, b.left, b.right);
			}
			if (!seen) bad.push(g.getAttribute("data-node"));
		}
		return bad;
	})()`)
}

// The Long flow, taller than its box at 1400x1000: its every box is
// reached by scrolling, on the flows page, on a run's page, and on the
// page of `flowgen graph -format html`.
func TestBrowserLongDiagramReachable(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Long", `{"K": "k-1"}`)
	v.await(id, runtime.StateWaiting)
	signIn(t, ctx, v.url+"/ui/#/flows", clientToken, false)
	card := `section[data-flow="Long"] .diagram`
	run(t, ctx, "the flows", flowShows("Long", `svg .fg-terminal[data-terminal="failed"]`))
	if tall := get(t, ctx, "the box's height", chromedp.Evaluate[bool](`(() => { const b = document.querySelector('`+card+`'); return b.scrollHeight > 1.5 * b.clientHeight; })()`)); !tall {
		t.Fatal("Long's diagram fits its box: the test proves nothing")
	}
	if bad := get(t, ctx, "the flows page's boxes", unreachable(card)); len(bad) > 0 {
		t.Errorf("flows page: boxes of Long out of reach: %v", bad)
	}
	run(t, ctx, "the run", goTo("#/run/"+id), chromedp.WaitReady(chromedp.CSS(current("First"))))
	if bad := get(t, ctx, "the run's boxes", unreachable("#run-diagram")); len(bad) > 0 {
		t.Errorf("run page: boxes of Long out of reach: %v", bad)
	}
	url := graphPage(t, shopFile(t), "Long")
	run(t, ctx, "the graph page", chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(`#diagram .fg-terminal[data-terminal="failed"]`)))
	if bad := get(t, ctx, "the graph page's boxes", unreachable("#diagram")); len(bad) > 0 {
		t.Errorf("graph page: boxes of Long out of reach: %v", bad)
	}
}

// The screenshot of a run's page shows its diagram whole, not the part
// its box shows (which looked cut off), and leaves the page as it was.
func TestBrowserShotShowsWholeDiagram(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Long", `{"K": "k-1"}`)
	v.await(id, runtime.StateWaiting)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "First lit", chromedp.WaitReady(chromedp.CSS(current("First"))), poll(litInView("First")))
	// The page's height were the box as tall as its diagram.
	want := get(t, ctx, "the page's height, the diagram whole", chromedp.Evaluate[int](`(() => {
		const b = document.querySelector("#run-diagram");
		return document.documentElement.scrollHeight - b.clientHeight + b.scrollHeight;
	})()`))
	before := get(t, ctx, "the box", chromedp.Evaluate[[]int](`(() => { const b = document.querySelector("#run-diagram"); return [b.clientHeight, b.scrollTop]; })()`))
	b := get(t, ctx, "the screenshot", pageShot())
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if h := img.Bounds().Dy(); h < want {
		t.Errorf("the screenshot is %d px tall, want at least %d: the diagram is not whole in it", h, want)
	}
	after := get(t, ctx, "the box after", chromedp.Evaluate[[]int](`(() => { const b = document.querySelector("#run-diagram"); return [b.clientHeight, b.scrollTop]; })()`))
	if before[0] != after[0] || before[1] != after[1] {
		t.Errorf("the box before the screenshot (height, scrolled) %v, after %v", before, after)
	}
	if !get(t, ctx, "First in view", chromedp.Evaluate[bool](litInView("First"))) {
		t.Error("after the screenshot the lit step is out of view")
	}
	shot(t, ctx, "whole")
}
