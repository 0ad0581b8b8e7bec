package ui_test

// A viewer's token (engine.RoleViewer) reads runs and flows and follows
// them live, and may do nothing: the page shows it what it may read and
// offers it no action it may not take.

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// A viewer signs in, follows a run as it moves (its diagram lit, its
// timeline, live), lists the runs and sees the flows' diagrams; the page
// offers no Abort on a run an admin may abort, no dead letters' link, and
// opened at the dead letters says the role may not read them.
func TestBrowserViewerLooksOnly(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Order", `{"Item": "mug"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, viewerToken, true)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))))
	if got := get(t, ctx, "the role", textOf("#who")); got != "signed in: viewer" {
		t.Errorf("the page says %q, want %q", got, "signed in: viewer")
	}
	// The run takes an abort (an admin's page offers one: TestBrowserAbort),
	// and the viewer's does not.
	if s := v.state(id); !s.TakesAbort() {
		t.Fatalf("the run is %s, which takes no abort: the test proves nothing", s)
	}
	if get(t, ctx, "Abort", chromedp.Evaluate[bool](`document.querySelector("#abort") !== null`)) {
		t.Error("a viewer is offered Abort")
	}
	if get(t, ctx, "the dead letters' link", chromedp.Evaluate[bool](`!document.querySelector("#nav-deadletters").hidden`)) {
		t.Error("a viewer is offered the dead letters")
	}
	shot(t, ctx, "1-run")

	v.gates.release("Stock.Reserve")
	run(t, ctx, "Charge lit, live", chromedp.WaitReady(chromedp.CSS(current("Charge"))))
	v.gates.release("Pay.Charge")
	run(t, ctx, "done", chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)),
		poll(`document.querySelectorAll("#timeline tbody tr").length > 0`))
	if s := v.state(id); s != runtime.StateDone {
		t.Errorf("the run is %s, want done", s)
	}
	shot(t, ctx, "2-done")

	run(t, ctx, "the runs", goTo("#/runs"), rowsAre(id))
	run(t, ctx, "the flows", goTo("#/flows"), flowShows("Order", "svg .fg-step"))
	shot(t, ctx, "3-flows")

	run(t, ctx, "the dead letters", goTo("#/deadletters"), chromedp.WaitReady(chromedp.CSS("#view-refused")))
	const want = "Your role (viewer) may not read the dead letters (GET /deadletters)"
	if got := get(t, ctx, "the refusal", textOf("#view-refused")); !strings.HasPrefix(got, want) {
		t.Errorf("the page says %q, want %q", got, want)
	}
	shot(t, ctx, "4-deadletters")
}
