package ui_test

// The runs list filtered by a flow that is not registered (gone after a
// restart while the store keeps its runs, or a link typed): the Flow
// select shows it, saying so, and Filter keeps it rather than drop it.

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserFilterKeepsUnregisteredFlow(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/runs?flow=Gone", clientToken, true)
	run(t, ctx, "the flows read", chromedp.WaitReady(chromedp.CSS(`#f-flow option[value="Payment"]`)))
	shown := get(t, ctx, "the select", chromedp.Evaluate[[]string](`[document.querySelector("#f-flow").value, document.querySelector("#f-flow").selectedOptions[0] ? document.querySelector("#f-flow").selectedOptions[0].textContent : ""]`))
	if shown[0] != "Gone" || shown[1] != "Gone (not registered)" {
		t.Errorf("the Flow select shows %q, want Gone, not registered", shown)
	}
	run(t, ctx, "filter by a correlation value too",
		chromedp.SendKeys(chromedp.CSS("#f-correlation"), "o-1"),
		chromedp.Click(chromedp.CSS("#f-apply")),
		poll(`location.hash !== "#/runs?flow=Gone"`))
	if hash := get(t, ctx, "the filter", chromedp.Evaluate[string](`location.hash`)); hash != "#/runs?flow=Gone&correlation=o-1" {
		t.Errorf("after Filter the list is at %q: the flow filter was dropped", hash)
	}
	// A registered flow in the URL is listed once, under its name.
	run(t, ctx, "a registered flow", goTo("#/runs?flow=Payment"),
		chromedp.WaitReady(chromedp.CSS(`#f-flow option[value="Order"]`)))
	if got := get(t, ctx, "its options", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#f-flow option[value="Payment"]'), o => o.textContent)`)); len(got) != 1 || got[0] != "Payment" {
		t.Errorf("the options of Payment read %q", got)
	}
}
