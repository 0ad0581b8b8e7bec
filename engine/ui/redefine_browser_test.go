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
