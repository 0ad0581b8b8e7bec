package ui_test

// The runs list opened with a filter value the API does not take (a link
// typed or cut short, a state of another version): the State select
// shows the value the link gave, saying it is no state, as the Flow
// select shows a flow not registered, and the list says the server
// refused the filter (GET /runs answers 400 for it, with the states it
// takes), rather than a blank select above an empty table.

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserUnknownStatusFilter(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	v.start("Payment", `{"OrderID": "o-1"}`)
	signIn(t, ctx, v.url+"/ui/#/runs?status=bogus", clientToken, true)
	run(t, ctx, "the refusal", poll(`!document.querySelector("#notice").hidden`))
	shot(t, ctx, "1-bogus")
	shown := get(t, ctx, "the select", chromedp.Evaluate[[]string](`(s => [s.value, s.selectedOptions[0] ? s.selectedOptions[0].textContent : ""])(document.querySelector("#f-status"))`))
	if shown[0] != "bogus" || shown[1] != "bogus (unknown state)" {
		t.Errorf("the State select shows %q, want bogus, an unknown state", shown)
	}
	if n := get(t, ctx, "the notice", textOf("#notice")); !strings.Contains(n, `unknown status "bogus"`) || !strings.Contains(n, "waiting") {
		t.Errorf("the notice says %q, want the API's reason with the states it takes", n)
	}
	if row := get(t, ctx, "the list", textOf("#runs tbody")); !strings.Contains(row, "refused") {
		t.Errorf("the list reads %q, want it to say the filter was refused", row)
	}
	// A state picked instead lists the runs, the unknown one gone from the URL.
	run(t, ctx, "pick a state",
		js(`(s => { s.value = "waiting"; })(document.querySelector("#f-status"))`),
		chromedp.Click(chromedp.CSS("#f-apply")),
		poll(`location.hash === "#/runs?status=waiting"`),
		chromedp.WaitReady(chromedp.CSS(`#runs tbody tr[data-run]`)),
		poll(`document.querySelector("#notice").hidden`))
	if got := get(t, ctx, "the options", chromedp.Evaluate[int](`document.querySelectorAll('#f-status option[value="bogus"]').length`)); got != 0 {
		t.Errorf("after a state was picked, %d options of bogus remain", got)
	}
	shot(t, ctx, "2-waiting")
}
