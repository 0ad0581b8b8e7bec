package ui_test

// A diagram's boxes are reached and picked by keyboard, as by a click:
// their details, a call's link to its child flow among them, are
// otherwise out of reach without a mouse (as the timeline's rows are,
// TestBrowserTimelineByKeyboard).

import (
	"context"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// tabTo presses Tab until the focus is on the element sel selects, at
// most max times, and says whether it got there.
func tabTo(t *testing.T, ctx context.Context, sel string, max int) bool {
	t.Helper()
	for range max {
		run(t, ctx, "Tab", chromedp.KeyEvent("\t"))
		if get(t, ctx, "the focus", chromedp.Evaluate[bool](`document.activeElement !== null && document.activeElement.matches(`+strconv.Quote(sel)+`)`)) {
			return true
		}
	}
	return false
}

func TestBrowserDiagramByKeyboard(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/flows/Parent", clientToken, false)
	give := `section[data-flow="Parent"] svg .fg-node[data-step="Give"]`
	run(t, ctx, "the diagram", chromedp.WaitReady(chromedp.CSS(give)))
	if !tabTo(t, ctx, give, 20) {
		t.Fatal("Tab never reaches the box of the call step Give")
	}
	run(t, ctx, "Enter", chromedp.KeyEvent("\r"))
	if got := get(t, ctx, "the details", chromedp.Evaluate[string](`(document.querySelector('section[data-flow="Parent"] a.call-link') || {}).textContent || ""`)); got != "Refund" {
		t.Fatalf("after Enter on Give, its details link to %q, want Refund", got)
	}
	if sel := get(t, ctx, "selected", chromedp.Evaluate[bool](`document.querySelector(`+strconv.Quote(give)+`).classList.contains("fg-selected")`)); !sel {
		t.Error("after Enter, the box of Give is not selected")
	}
	// The link is the next stop: Tab, Enter follows it.
	if !tabTo(t, ctx, `section[data-flow="Parent"] a.call-link`, 10) {
		t.Fatal("Tab never reaches the call's link")
	}
	run(t, ctx, "follow the link", chromedp.KeyEvent("\r"),
		poll(`document.querySelector("#view h1").textContent === "Flow Refund"`))
	shot(t, ctx, "child")

	// The page of flowgen graph -format html, with Space.
	run(t, ctx, "the graph page", chromedp.Navigate(graphPage(t, shopFile(t), "")),
		chromedp.WaitReady(chromedp.CSS(`.fg-flow[data-flow="Order"]`)))
	charge := `.fg-flow[data-flow="Order"] .fg-node[data-step="Charge"]`
	if !tabTo(t, ctx, charge, 30) {
		t.Fatal("on the graph page, Tab never reaches the box of Charge")
	}
	run(t, ctx, "Space", chromedp.KeyEvent(" "))
	if got := get(t, ctx, "the details", textOf("#details h2")); got != "Charge" {
		t.Errorf("after Space on Charge, the details are of %q", got)
	}
	shot(t, ctx, "graph-page")
}
