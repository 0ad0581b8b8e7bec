package ui_test

// A run's page draws its diagram anew at each event the run records: the
// box the user picked stays picked (lit, its details beside it) and the
// box the keyboard is on keeps the focus, as the boxes' scrolling does.

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserRedrawKeepsPick(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Order", `{"Item": "book"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))))
	run(t, ctx, "pick Charge", chromedp.Click(chromedp.CSS(`#run-diagram .fg-node[data-step="Charge"] rect`)),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-node.fg-selected[data-step="Charge"]`)))
	run(t, ctx, "focus Ship", js(`document.querySelector('#run-diagram .fg-node[data-step="Ship"]').focus()`))

	v.gates.release("Stock.Reserve")
	run(t, ctx, "Charge lit", chromedp.WaitReady(chromedp.CSS(current("Charge"))))
	state := get(t, ctx, "the pick and the focus", chromedp.Evaluate[[]string](`[
		Array.from(document.querySelectorAll("#run-diagram .fg-selected"), g => g.getAttribute("data-node")).join(" "),
		document.querySelectorAll("#run-diagram .fg-edge.fg-hl").length > 0 ? "edges lit" : "no edge lit",
		(document.querySelector("#run-diagram + .node-details h3") || {}).textContent || "",
		document.activeElement && document.activeElement.closest("#run-diagram") ? document.activeElement.getAttribute("data-node") : "focus elsewhere"
	]`))
	want := []string{"Order_Charge", "edges lit", "Charge", "Order_Ship"}
	for i := range want {
		if state[i] != want[i] {
			t.Errorf("after a redraw: picked, edges, details, focus %q, want %q", state, want)
			break
		}
	}
	shot(t, ctx, "kept")
	v.gates.release("Pay.Charge")
}
