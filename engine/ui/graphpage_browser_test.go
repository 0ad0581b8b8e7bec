package ui_test

import (
	"net/http"
	"net/http/httptest"
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
