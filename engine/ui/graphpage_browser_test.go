package ui_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/internal/graph"
)

// The page of `flowgen graph -format html`: every box clicked names
// itself and each box it leads to and comes from; a parallel block's fork
// and join bars, which have no text, are named by their block.
func TestBrowserGraphPageNamesEveryBox(t *testing.T) {
	url := graphPage(t, shopFile(t), "")
	ctx := browser(t)
	run(t, ctx, "the page", chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(`.fg-flow[data-flow="Split"]`)))
	// Each box clicked in turn: its heading and its lists' items, as
	// "ID: text" for those that name nothing.
	blank := get(t, ctx, "every box's details", chromedp.Evaluate[[]string](`(() => {
		const bad = [];
		for (const g of document.querySelectorAll("#diagram .fg-node")) {
			g.querySelector("rect, circle, path").dispatchEvent(new MouseEvent("click", {bubbles: true}));
			const texts = [document.querySelector("#details h2").textContent,
				...Array.from(document.querySelectorAll("#details li"), li => li.textContent)];
			for (const s of texts) if (s.trim() === "" || s.startsWith(" ") || s.includes("_fork") || s.includes("_join")) bad.push(g.getAttribute("data-node") + ": " + JSON.stringify(s));
		}
		return bad;
	})()`))
	if len(blank) > 0 {
		t.Errorf("details that name no box:\n%s", strings.Join(blank, "\n"))
	}
	details := func(node string) []string {
		return get(t, ctx, "the details of "+node, chromedp.Evaluate[[]string](`(() => {
			document.querySelector('[data-node="`+node+`"] rect').dispatchEvent(new MouseEvent("click", {bubbles: true}));
			return [document.querySelector("#details h2").textContent, ...Array.from(document.querySelectorAll("#details h3, #details li"), e => e.textContent)];
		})()`))
	}
	for _, c := range []struct {
		node string
		want []string
	}{
		{"Split_Prepare", []string{"Prepare", "Leads to", "fork of parallel block Prepare", "Comes from", "start  (rpc \"Split.Start\")"}},
		{"Split_Pack", []string{"Pack", "Leads to", "join of parallel block Prepare", "Comes from", "fork of parallel block Prepare"}},
		{"Split_Prepare_join", []string{"join of parallel block Prepare", "Leads to", "Ship  (ok)", "failed  (error)", "undo Prepare  (error)", "Comes from", "Pack", "Label"}},
	} {
		if got := details(c.node); !slices.Equal(got, c.want) {
			t.Errorf("%s: the details read %q, want %q", c.node, got, c.want)
		}
	}
	shot(t, ctx, "join")
}

// shopFile is the flows of the browser tests (flows), loaded.
func shopFile(t *testing.T) *dsl.File {
	t.Helper()
	f, ds := flowfile.Load("flows.flow", []byte(flows), dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return f
}

// graphPage serves the page of `flowgen graph -format html` of flow in f
// ("": every flow) until the test ends, and answers its URL.
func graphPage(t *testing.T, f *dsl.File, flow string) string {
	t.Helper()
	page, err := graph.HTML(f, flow)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// clipsOutOfView answers, for the diagram of the page of `flowgen graph
// -format html`, each box that scrolls it sideways (it is wider than the
// box) and whose bottom, where its scroll bar is, lies below the window:
// a user sees the diagram cut off at the right with no scroll bar to say
// there is more (the page's own scrolling aside).
const clipsOutOfView = `(() => {
	window.scrollTo(0, 0);
	const bad = [];
	for (let p = document.querySelector("#diagram svg").parentElement; p && p !== document.documentElement; p = p.parentElement) {
		const o = getComputedStyle(p);
		if (o.overflowX === "visible" || p.scrollWidth <= p.clientWidth + 1) continue;
		const r = p.getBoundingClientRect();
		if (r.bottom > window.innerHeight + 1) bad.push(p.tagName.toLowerCase() + (p.id ? "#" + p.id : "") + " bottom " + Math.round(r.bottom) + " of a window " + window.innerHeight + " tall");
	}
	return bad;
})()`

// The page of a flow wider than the window (examples/order's Order, with
// its parallel block and choice): the diagram scrolls sideways with its
// scroll bar in view, every box is reached, and in a phone's window the
// diagram keeps the width and the details of a box clicked are in view.
func TestBrowserGraphPageWideFlow(t *testing.T) {
	src, err := os.ReadFile("../../examples/order/order.flow")
	if err != nil {
		t.Fatal(err)
	}
	f, ds := flowfile.Load("order.flow", src, dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	url := graphPage(t, f, "")
	ctx := browser(t)
	run(t, ctx, "the page", chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(`.fg-flow[data-flow="Order"]`)))
	if wide := get(t, ctx, "the diagram's width", chromedp.Evaluate[bool](`document.querySelector("#diagram svg").getBoundingClientRect().width > document.querySelector("main").clientWidth`)); !wide {
		t.Fatal("the diagram fits beside the details: the test proves nothing")
	}
	if bad := get(t, ctx, "the scroll bars", chromedp.Evaluate[[]string](clipsOutOfView)); len(bad) > 0 {
		t.Errorf("the diagram is cut off at the right, its scroll bar out of view: %v", bad)
	}
	if bad := get(t, ctx, "the boxes", unreachable("#diagram")); len(bad) > 0 {
		t.Errorf("boxes out of reach: %v", bad)
	}
	shot(t, ctx, "1-wide")

	run(t, ctx, "a phone's window", chromedp.EmulateViewport(400, 800), chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(`.fg-flow[data-flow="Order"]`)))
	room := get(t, ctx, "the diagram's room", chromedp.Evaluate[[]int](`[document.querySelector("main").clientWidth, document.documentElement.scrollWidth, window.innerWidth]`))
	if room[0] < 300 || room[1] > room[2] {
		t.Errorf("in a window 400 px wide the diagram has %d px, the page is %d px wide", room[0], room[1])
	}
	run(t, ctx, "click a box", js(`document.querySelector('[data-node="Order_Notify"] rect').dispatchEvent(new MouseEvent("click", {bubbles: true}))`))
	seen := get(t, ctx, "the details", chromedp.Evaluate[bool](`(() => {
		const r = document.querySelector("#details h2").getBoundingClientRect();
		return document.querySelector("#details h2").textContent === "Notify" && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
	})()`))
	if !seen {
		t.Error("in a phone's window, the details of the box clicked are out of view")
	}
	if bad := get(t, ctx, "the boxes", unreachable("#diagram")); len(bad) > 0 {
		t.Errorf("in a phone's window, boxes out of reach: %v", bad)
	}
	shot(t, ctx, "2-phone")
}

// The page of `flowgen graph -format html` draws every flow of a file in
// one SVG, and each flow's start arrow comes from no box (data-from ""):
// the start point of a flow, clicked, leads to its own first step only,
// and its arrow lights up, as any box's edges do.
func TestBrowserGraphPageStartOfItsFlow(t *testing.T) {
	url := graphPage(t, shopFile(t), "")
	ctx := browser(t)
	run(t, ctx, "the page", chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(`.fg-flow[data-flow="Split"]`)))
	bad := get(t, ctx, "each start point", chromedp.Evaluate[[]string](`(() => {
		const bad = [];
		const starts = document.querySelectorAll("#diagram .fg-start");
		if (starts.length < 2) bad.push("fewer than two flows: the test proves nothing");
		for (const g of starts) {
			const flow = g.closest(".fg-flow"), name = flow.getAttribute("data-flow");
			g.querySelector("circle").dispatchEvent(new MouseEvent("click", {bubbles: true}));
			const leads = Array.from(document.querySelectorAll("#details li"), li => li.textContent);
			const own = Array.from(flow.querySelectorAll('.fg-edge[data-from=""]'));
			if (leads.length !== own.length) bad.push(name + ": the start leads to " + JSON.stringify(leads) + ", want " + own.length + " box(es)");
			const lit = Array.from(document.querySelectorAll("#diagram .fg-edge.fg-hl"));
			if (lit.length !== own.length || lit.some(e => !own.includes(e))) bad.push(name + ": " + lit.length + " edge(s) lit, want its start arrow");
		}
		return bad;
	})()`))
	if len(bad) > 0 {
		t.Errorf("start points:\n%s", strings.Join(bad, "\n"))
	}
}
