package ui_test

// A parallel branch's outcome in the run page's branches' table is a
// word or two (running, ok, error, cancelled, with the attempt after a
// retry): it wraps between its words, never inside one. The table's
// names wrap anywhere if they must, so that it fits its column
// (TestBrowserBranchesReadable), and the outcome wrapped with them: a
// branch read "cancelle" above "d".

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// ForkRace is Race with Fork's long names: shipping fails while packing
// waits for the test, which cancels the packing.
const forkRace = `
flow ForkRace {
    state ForkRaceState
    trigger rpc "ForkRace.Start"

    parallel PrepareEverything {
        step ReserveTheWholeWarehouseStock {
            rpc stock "Stock.Reserve" (Item) -> Packed
            rollback rpc stock "Stock.Release" (Packed)
        }
        step ShipToTheFarAwayDestination {
            rpc shipping "Ship.Now" (Item)
            irreversible
        }
    }
}
`

func TestBrowserBranchOutcomeWhole(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	fork := v.startDefined("forkrace.flow", forkRace, "ForkRace", `{"Item": "box"}`, runtime.StateFailed)
	run(t, ctx, "a window 1280 px wide", chromedp.EmulateViewport(1280, 900))
	signIn(t, ctx, v.url+"/ui/#/run/"+fork, clientToken, false)
	run(t, ctx, "the branches", poll(`(document.querySelector("#run-branches table") || {innerText: ""}).innerText.includes("cancelled")`))
	const outcomes = `#run-branches tr[data-branch] td:nth-child(3)`
	if !get(t, ctx, "the outcomes", chromedp.Evaluate[bool](textOneLine(outcomes))) {
		t.Errorf("a branch's outcome (%q) is broken across lines", get(t, ctx, "the outcomes", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("`+outcomes+`"), c => c.textContent)`)))
	}
	for _, box := range []string{`document.querySelector("#run-branches table").parentNode`, `document.querySelector("#run-branches").parentNode`} {
		got := get(t, ctx, "the branches' box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(`+box+`)`))
		if got[0] > got[1] {
			t.Errorf("%s is %d px wide inside, %d px outside: it scrolls sideways", box, got[0], got[1])
		}
	}
	shot(t, ctx, "fork")
}
