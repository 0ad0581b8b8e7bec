package ui_test

// The flows' pages follow the flows' definitions (GET /watch?kind=flow):
// a flow defined while #/flows is open (PUT /flows) appears in the list,
// and a flow defined anew is drawn anew, on #/flows and on its own page,
// without a reload.

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// Extra is a flow the test defines while the page is open.
const extraFlow = `
flow Extra {
    state ExtraState

    step Note {
        publish log "note" (K)
        irreversible
    }
}
`

func TestBrowserFlowsFollowDefinitions(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/flows", clientToken, true)
	run(t, ctx, "the flows", flowShows("Order", `svg .fg-step[data-step="Ship"]`),
		js(`window.notReloaded = true`))

	v.putFlows("extra.flow", extraFlow)
	run(t, ctx, "the new flow, live", flowShows("Extra", `svg .fg-step[data-step="Note"]`))
	v.putFlows("order.flow", orderDeliver)
	run(t, ctx, "Order drawn anew, live", flowShows("Order", `svg .fg-step[data-step="Deliver"]`),
		poll(`!document.querySelector('section[data-flow="Order"] svg .fg-step[data-step="Ship"]')`))
	if got := get(t, ctx, "the flows' order", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#flows section[data-flow]"), s => s.dataset.flow)`)); len(got) < 2 || !before(got, "Extra", "Order") {
		t.Errorf("the cards are %v, want them in GET /flows' order (Extra before Order)", got)
	}
	shot(t, ctx, "flows")

	// One flow's page: drawn anew when its flow is, not when another is.
	run(t, ctx, "Order's page", goTo("#/flows/Order"),
		chromedp.WaitReady(chromedp.CSS(`section[data-flow="Order"] svg .fg-step[data-step="Deliver"]`)), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	v.putFlows("order.flow", flows) // shop.flow's Order, with Ship; the others unchanged
	run(t, ctx, "Order drawn anew on its page, live", chromedp.WaitReady(chromedp.CSS(`section[data-flow="Order"] svg .fg-step[data-step="Ship"]`)),
		poll(`!document.querySelector('section[data-flow="Order"] svg .fg-step[data-step="Deliver"]')`))
	if n := get(t, ctx, "the cards", chromedp.Evaluate[int](`document.querySelectorAll("#flows section[data-flow]").length`)); n != 1 {
		t.Errorf("Order's page shows %d flows, want 1", n)
	}
	if !get(t, ctx, "no reload", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the page was reloaded")
	}
	shot(t, ctx, "order")
}

func before(names []string, a, b string) bool {
	ia, ib := -1, -1
	for i, n := range names {
		switch n {
		case a:
			ia = i
		case b:
			ib = i
		}
	}
	return ia >= 0 && ib > ia
}
