package ui_test

// A run's link in the runs list opens the run in a new tab with
// Ctrl-click, as any link does, and leaves the list where it is.

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// The row's own click (a click anywhere on a row opens its run) must not
// also take the tab that the user kept on the list to the run.
func TestBrowserCtrlClickKeepsList(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-1"}`)
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	run(t, ctx, "the list", rowsAre(id))
	at := get(t, ctx, "the link's middle", chromedp.Evaluate[[]float64](`(function () {
		var r = document.querySelector('#runs tr[data-run] a').getBoundingClientRect();
		return [r.left + r.width / 2, r.top + r.height / 2];
	})()`))
	run(t, ctx, "ctrl-click the run's link", chromedp.MouseClickXY(at[0], at[1], chromedp.ButtonModifiers(chromedp.ModifierCtrl)))
	// A navigation the click made, if any, is done once the tab shows
	// what came after it: the list read again at a run started since, or
	// another view.
	later := v.start("Payment", `{"OrderID": "o-2"}`)
	run(t, ctx, "the list read again, or another view", poll(fmt.Sprintf(`!document.querySelector("#runs") || !!document.querySelector('#runs tr[data-run=%q]')`, later)))
	if hash := get(t, ctx, "where the tab is", chromedp.Evaluate[string](`location.hash`)); hash != "#/runs" {
		t.Errorf("after a Ctrl-click on the run's link the list's tab is at %q, want it left at #/runs", hash)
	}
	// A plain click on the row still opens the run.
	run(t, ctx, "click the row", chromedp.Click(chromedp.CSS(`#runs tr[data-run] td:nth-child(2)`)),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state]`)))
}
