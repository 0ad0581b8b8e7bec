package ui_test

// The runs list reads its page anew at each event of a run (live): the
// run's link the keyboard is on keeps the focus, rather than lose it to
// the page's body each time any run moves, which on a busy server made
// the list impossible to go through by keyboard.

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserListKeepsFocus(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	order := v.start("Order", `{"Item": "book"}`)
	pay := v.start("Payment", `{"OrderID": "o-1"}`)
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	link := `#runs tr[data-run="` + pay + `"] a`
	run(t, ctx, "the runs", chromedp.WaitReady(chromedp.CSS(link)),
		poll(`(document.querySelector('#runs tr[data-run="`+order+`"] td:nth-child(4)') || {}).textContent === "Reserve"`))
	run(t, ctx, "focus the payment's link", js(`document.querySelector('`+link+`').focus()`))
	v.gates.release("Stock.Reserve")
	run(t, ctx, "the order moved", poll(`(document.querySelector('#runs tr[data-run="`+order+`"] td:nth-child(4)') || {}).textContent === "Charge"`))
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "#/run/"+pay {
		t.Errorf("after the list was read anew, the focus is on %s, want the link to %s it was on", got, pay)
	}
	shot(t, ctx, "kept")
	v.gates.release("Pay.Charge")
}
