package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// markup is what a caller puts wherever the web view shows its data: an
// element with an event handler, were it parsed as HTML or SVG.
const markup = `<img src=x onerror="window.__xss=1"><svg onload="window.__xss=2">`

// evilFlow's doc, its step's doc and its runs' states and correlations are
// markup.
var evilFlow = `
// Evil ` + markup + ` flow.
flow Evil {
    state EvilState
    trigger rpc "Evil.Start"

    // Wait ` + markup + ` step.
    step Wait {
        await payments "evil" -> Got correlate K timeout 1h
        irreversible
    }
}
`

// inert fails the test unless the page, showing view, holds markup as
// text only: no element of it, no handler of it run.
func inert(t *testing.T, ctx context.Context, view string) {
	t.Helper()
	ok := get(t, ctx, view, chromedp.Evaluate[bool](`document.querySelector("[onerror], [onload], img[src=x]") === null && window.__xss === undefined`))
	text := get(t, ctx, view+" text", chromedp.Evaluate[string](`document.body.innerText`))
	if !ok || !strings.Contains(text, `<img src=x onerror=`) {
		t.Errorf("%s: inert %v; the markup shown as text: %v", view, ok, strings.Contains(text, `<img src=x onerror=`))
	}
}

// What callers choose (states, correlations, flow and step docs) is shown
// as text in every view, never parsed as markup: no element of it is
// created, no handler of it runs (and watchConsole fails the test for
// any script the policy had to block).
func TestBrowserCallersDataIsText(t *testing.T) {
	v := newEnvAuth(t, false)
	if ds, err := v.e.LoadFlows("evil.flow", []byte(evilFlow)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	ctx := browser(t)
	state := fmt.Sprintf(`{"K": %q, "Note": %q}`, markup, markup)
	id := v.start("Evil", state)
	v.await(id, runtime.StateWaiting)
	inert := func(view string) { t.Helper(); inert(t, ctx, view) }
	run(t, ctx, "the runs", chromedp.Navigate(v.url+"/ui/#/runs?flow=Evil"),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`tr[data-run=%q]`, id))))
	inert("the runs")
	run(t, ctx, "the run", goTo("#/run/"+id),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="waiting"]`)),
		chromedp.WaitReady(chromedp.CSS(current("Wait"))),
		chromedp.WaitVisible(chromedp.CSS("#run-wait")))
	inert("the run")
	run(t, ctx, "an event's state", chromedp.Click(chromedp.CSS(`#timeline tr[data-seq="1"]`)),
		chromedp.WaitReady(chromedp.CSS(`#timeline tr.selected[data-seq="1"]`)))
	get(t, ctx, "the event's state shown", stateShown())
	inert("an event's state")
	run(t, ctx, "the flow", goTo("#/flows/Evil"),
		chromedp.WaitReady(chromedp.CSS(`section[data-flow="Evil"] svg .fg-step[data-step="Wait"]`)),
		chromedp.Click(chromedp.CSS(`section[data-flow="Evil"] svg .fg-step[data-step="Wait"] rect`)),
		chromedp.WaitReady(chromedp.CSS(`section[data-flow="Evil"] svg .fg-step.fg-selected[data-step="Wait"]`)))
	inert("the flow")
	shot(t, ctx, "flow")
}
