package ui_test

// A run's page draws its head and panels anew at each event the run
// records: the element the keyboard is on there (the Abort button, the
// flow's link) keeps the focus, as a diagram's box does
// (TestBrowserRedrawKeepsPick), rather than lose it to the page's body,
// from where a keyboard user would Tab through the whole page again.

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// focusIn is a script naming the element with the focus: its id, else
// its href, else "the body" or the start of its markup.
const focusIn = `(a => !a || a === document.body ? "the body" : a.id || a.getAttribute("href") || a.outerHTML.slice(0, 80))(document.activeElement)`

func TestBrowserRedrawKeepsHeadFocus(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Order", `{"Item": "book"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, adminToken, true)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))), chromedp.WaitReady(chromedp.CSS("#abort")))
	run(t, ctx, "focus Abort", js(`document.querySelector("#abort").focus()`))
	v.gates.release("Stock.Reserve")
	run(t, ctx, "Charge lit", chromedp.WaitReady(chromedp.CSS(current("Charge"))), chromedp.WaitReady(chromedp.CSS(`#run-step`)),
		poll(`document.querySelector("#run-step").textContent === "Charge"`))
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "abort" {
		t.Errorf("after a redraw, the focus is on %s, want the Abort button it was on", got)
	}
	shot(t, ctx, "1-abort")

	// The button gone with the run's end, the focus goes to the head.
	run(t, ctx, "focus Abort again", js(`document.querySelector("#abort").focus()`))
	v.gates.release("Pay.Charge")
	run(t, ctx, "done", chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)))
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "run-head" {
		t.Errorf("the Abort button gone, the focus is on %s, want the run's head", got)
	}
	shot(t, ctx, "2-head")

	// A link, on another run's page.
	pay := v.start("Payment", `{"OrderID": "o-1"}`)
	run(t, ctx, "the payment", goTo("#/run/"+pay), chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="waiting"]`)))
	run(t, ctx, "focus the flow's link", js(`document.querySelector('#run-head a[href="#/runs?flow=Payment"]').focus()`))
	v.publish("payments", "paid", `{"correlation_id": "o-1"}`)
	run(t, ctx, "paid", chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)))
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "#/runs?flow=Payment" {
		t.Errorf("after a redraw, the focus is on %s, want the flow's link it was on", got)
	}
	shot(t, ctx, "3-link")
}

// An abort by keyboard (Enter on Abort run, Enter on Confirm abort): the
// button is disabled while the request is under way and gone once the
// run takes the abort; the focus stays on the run's head, not the body.
func TestBrowserAbortByKeyboardKeepsFocus(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Order", `{"Item": "book"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, adminToken, true)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))), chromedp.WaitReady(chromedp.CSS("#abort")))
	run(t, ctx, "focus Abort", freezeClock, js(`document.querySelector("#abort").focus()`)) // the arming lasts until the confirmation
	run(t, ctx, "arm", chromedp.KeyEvent("\r"), poll(`document.querySelector("#abort").textContent === "Confirm abort"`))
	run(t, ctx, "confirm", chromedp.KeyEvent("\r"), chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="aborted"]`)))
	shot(t, ctx, "aborted")
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "run-head" {
		t.Errorf("the run aborted by keyboard, the focus is on %s, want the run's head", got)
	}
}
