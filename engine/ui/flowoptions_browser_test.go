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
	run(t, ctx, "a filter by Late", js(`location.hash = "#/runs?flow=Late"`),
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
