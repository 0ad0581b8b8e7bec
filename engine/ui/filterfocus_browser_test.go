package ui_test

// A filter applied by keyboard draws its list anew, the form with it:
// the control the keyboard was on keeps the focus (the Filter button
// pressed with Enter, Clear; the dead letters' Order select, which applies
// itself as the arrow keys change it, lost the focus at the first
// change, and could be moved no further), rather than drop it to the
// page's body.

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

func TestBrowserFilterKeepsFocus(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	v.start("Payment", `{"OrderID": "o-1"}`)
	v.deadLetter("orders", "placed", "m-1", `{}`, "test")
	signIn(t, ctx, v.url+"/ui/#/runs", adminToken, true)
	run(t, ctx, "the runs", chromedp.WaitReady(chromedp.CSS("#runs tbody tr[data-run]")))
	run(t, ctx, "Filter by keyboard", chromedp.SendKeys(chromedp.CSS("#f-correlation"), "o-1"),
		js(`document.querySelector("#f-apply").focus()`), chromedp.KeyEvent("\r"),
		poll(`location.hash === "#/runs?correlation=o-1"`), chromedp.WaitReady(chromedp.CSS("#runs tbody tr[data-run]")))
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "f-apply" {
		t.Errorf("after Filter, the focus is on %s, want f-apply", got)
	}
	run(t, ctx, "Clear by keyboard", js(`document.querySelector("#f-clear").focus()`), chromedp.KeyEvent("\r"),
		poll(`location.hash === "#/runs"`), chromedp.WaitReady(chromedp.CSS("#runs tbody tr[data-run]")))
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "f-clear" {
		t.Errorf("after Clear, the focus is on %s, want f-clear", got)
	}
	run(t, ctx, "the dead letters", goTo("#/deadletters"), chromedp.WaitReady(chromedp.CSS("#deadletters tbody tr[data-id]")))
	run(t, ctx, "order by keyboard", js(`document.querySelector("#dl-order").focus()`), chromedp.KeyEvent(kb.ArrowDown),
		poll(`location.hash === "#/deadletters?order=oldest"`), chromedp.WaitReady(chromedp.CSS("#deadletters tbody tr[data-id]")))
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "dl-order" {
		t.Errorf("after the order changed, the focus is on %s, want dl-order", got)
	}
	shot(t, ctx, "oldest")
	run(t, ctx, "Clear by keyboard", js(`document.querySelector("#dl-clear").focus()`), chromedp.KeyEvent("\r"),
		poll(`location.hash === "#/deadletters"`), chromedp.WaitReady(chromedp.CSS("#deadletters tbody tr[data-id]")))
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "dl-clear" {
		t.Errorf("after Clear, the focus is on %s, want dl-clear", got)
	}
}
