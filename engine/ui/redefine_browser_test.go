package ui_test

// A run's page open while its flow is defined anew (PUT /flows): the
// next redraw draws the new definition, and the box the keyboard was on
// may be gone from it. The focus then goes to the box nearest to where
// it was, in the diagram, not to the page's body, where a keyboard user
// would have to Tab through the whole page again to come back.

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// Order with its step Ship named Deliver: the same shape, Ship's box gone.
const orderDeliver = `
flow Order {
    state OrderState
    trigger rpc "Order.Place"
    retry 1
    timeout 5m

    step Reserve {
        rpc stock "Stock.Reserve" (Item) -> Reservation
        rollback rpc stock "Stock.Release" (Reservation)
    }
    step Charge {
        rpc pay "Pay.Charge" (Item) -> Receipt
    }
    step Deliver {
        publish shipping "ship" (Item)
        irreversible
    }
}
`

// putFlows defines flows anew through the HTTP API, as an admin would.
func (v *env) putFlows(name, src string) {
	v.t.Helper()
	req, _ := http.NewRequest("PUT", v.url+"/flows?name="+name, strings.NewReader(src))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json") // RequireJSON: every body, a .flow source too
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(res.Body)
		v.t.Fatalf("PUT /flows?name=%s: %d %s", name, res.StatusCode, b)
	}
}

func TestBrowserRedefinedFlowKeepsFocus(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Order", `{"Item": "book"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))))
	run(t, ctx, "focus Ship", js(`document.querySelector('#run-diagram .fg-node[data-step="Ship"]').focus()`))

	v.putFlows("order.flow", orderDeliver)
	v.gates.release("Stock.Reserve") // an event: the page draws the diagram anew
	run(t, ctx, "the new diagram", chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-node[data-step="Deliver"]`)),
		chromedp.WaitReady(chromedp.CSS(current("Charge"))))
	shot(t, ctx, "redefined")
	focus := get(t, ctx, "the focus", chromedp.Evaluate[string](`(a => !a || a === document.body ? "the body" : a.closest("#run-diagram") ? a.getAttribute("data-node") || "the diagram" : a.outerHTML.slice(0, 80))(document.activeElement)`))
	if focus != "Order_Deliver" {
		t.Errorf("with the focused box Ship gone, the focus is on %s, want Order_Deliver, the box where Ship was", focus)
	}
	v.gates.release("Pay.Charge")
}

// A diagram that cannot be read at a redraw (a proxy's 502 while the
// server restarts) takes the box the keyboard was on with it: the focus
// stays in its place, on the diagram's box, not on the page's body.
func TestBrowserDiagramGoneKeepsFocus(t *testing.T) {
	var refuse atomic.Bool
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refuse.Load() && strings.HasSuffix(r.URL.Path, "/diagram") {
				http.Error(w, "the server is restarting", http.StatusBadGateway)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := browser(t)
	id := v.start("Order", `{"Item": "book"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))))
	run(t, ctx, "focus Ship", js(`document.querySelector('#run-diagram .fg-node[data-step="Ship"]').focus()`))
	refuse.Store(true)
	v.gates.release("Stock.Reserve")
	run(t, ctx, "no diagram", poll(`document.querySelector("#run-diagram").textContent.startsWith("No diagram")`))
	shot(t, ctx, "no-diagram")
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "run-diagram" {
		t.Errorf("the diagram gone, the focus is on %s, want the diagram's box", got)
	}
	refuse.Store(false)
	v.gates.release("Pay.Charge")
	run(t, ctx, "the diagram again", chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-terminal.fg-done[data-terminal="done"]`)))
	if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != "run-diagram" {
		t.Errorf("the diagram back, the focus is on %s, want the diagram's box", got)
	}
}
