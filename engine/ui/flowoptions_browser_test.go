package ui_test

// The runs list learns of a flow defined while it is open (an event flow
// of its stream): the Flow select lists it in name order, a filter by it
// is no longer "not registered", and the runs are not read again for it.

import (
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestBrowserRunsListLearnsNewFlows(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	run(t, ctx, "the flows read", chromedp.WaitReady(chromedp.CSS(`#f-flow option[value="Order"]`)),
		js(`window.notReloaded = true; window.runReads = 0; (function (f) { window.fetch = function (u) { if (String(u).indexOf("/runs?") === 0) window.runReads++; return f.apply(this, arguments); }; })(window.fetch)`))
	v.putFlows("extra.flow", extraFlow)
	run(t, ctx, "Extra, live", chromedp.WaitReady(chromedp.CSS(`#f-flow option[value="Extra"]`)))
	options := get(t, ctx, "the options", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#f-flow option"), o => o.value).slice(1)`))
	if !slices.IsSorted(options) || slices.Index(options, "Extra") < 0 {
		t.Errorf("the Flow select lists %q, want the flows in name order with Extra", options)
	}
	time.Sleep(500 * time.Millisecond) // past the list's throttle (300 ms)
	if n := get(t, ctx, "the runs' reads", chromedp.Evaluate[int](`window.runReads`)); n != 0 {
		t.Errorf("a flow defined read the runs %d times: no run moved", n)
	}

	// A filter by a flow not yet defined: registered once it is.
	run(t, ctx, "a filter by Late", goTo("#/runs?flow=Late"),
		poll(`document.querySelector("#f-flow").selectedOptions[0].textContent === "Late (not registered)"`))
	v.putFlows("late.flow", `
flow Late {
    state ExtraState

    step Note {
        publish log "late" (K)
        irreversible
    }
}
`)
	run(t, ctx, "Late, registered, live", poll(`document.querySelector("#f-flow").selectedOptions[0].textContent === "Late"`))
	if n := get(t, ctx, "Late's options", chromedp.Evaluate[int](`document.querySelectorAll('#f-flow option[value="Late"]').length`)); n != 1 {
		t.Errorf("Late is listed %d times", n)
	}
	if !get(t, ctx, "no reload", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the page was reloaded")
	}
}

// A flow defined while the list's stream was closed (its tab behind
// another, the server restarting) sends the list no event: the list reads
// the flows again when its stream opens again, as it reads the runs.
func TestBrowserRunsListLearnsFlowsMissed(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/runs?flow=Extra", clientToken, true)
	run(t, ctx, "the flows read", chromedp.WaitReady(chromedp.CSS(`#f-flow option[value="Order"]`)),
		poll(`document.querySelector("#f-flow").selectedOptions[0].textContent === "Extra (not registered)"`))
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewWindow(false))
	defer cancel()
	run(t, tab, "another tab in front", toFront, chromedp.Navigate("about:blank"))
	run(t, ctx, "the list's stream closed", poll(`!document.querySelector("#live").classList.contains("on")`))
	v.putFlows("extra.flow", extraFlow)
	run(t, ctx, "the list in front again", toFront, chromedp.WaitReady(chromedp.CSS("#live.on")))
	run(t, ctx, "Extra registered", poll(`document.querySelector("#f-flow").selectedOptions[0].textContent === "Extra"`))
	if n := get(t, ctx, "the options", chromedp.Evaluate[int](`document.querySelectorAll('#f-flow option[value="Order"]').length`)); n != 1 {
		t.Errorf("Order is listed %d times after the flows were read again", n)
	}
}
