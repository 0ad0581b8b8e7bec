package ui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// A run aborted while it waits (as the README's walk-through aborts a
// signup waiting for its payment) did not fail: the abort was asked for.
// The abort cut no step short, so it is not "interrupted", but its row
// reads "aborted", grey, not in the red of a failure, and so does the
// run's error in the head ("runtime: run aborted"), as for an abort
// that cut a step short (TestBrowserAbort). Both were red.
func TestBrowserAbortWhileWaiting(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-7"}`)
	v.await(id, runtime.StateWaiting)
	if err := v.e.Abort(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	v.await(id, runtime.StateAborted)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "the abort's row",
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="aborted"]`)),
		poll(`Array.from(document.querySelectorAll("#timeline tbody tr")).some(r => r.innerText.includes("AwaitPaid:waiting → aborting"))`))
	look := get(t, ctx, "the abort's look", chromedp.Evaluate[[]string](`(() => {
		const tr = Array.from(document.querySelectorAll("#timeline tbody tr")).find(r => r.innerText.includes("AwaitPaid:waiting → aborting"));
		const red = getComputedStyle(document.querySelector("#notice")).color; // the red of an error
		const head = document.querySelector("#run-error");
		return [tr.className, tr.querySelector("td:nth-child(6)").innerText, getComputedStyle(tr.querySelector("td.err-col")).color,
			head ? getComputedStyle(head).color : "", red];
	})()`))
	shot(t, ctx, "aborted")
	if len(look) != 5 {
		t.Fatalf("look %q", look)
	}
	if strings.Contains(look[0], "ev-error") || look[2] == look[4] {
		t.Errorf("the abort's row (class %q, error in %s) looks failed (red %s)", look[0], look[2], look[4])
	}
	if look[1] != "aborted" {
		t.Errorf("the abort's row's outcome %q, want aborted", look[1])
	}
	if look[3] == "" || look[3] == look[4] {
		t.Errorf("the run's error in the head is in %q, want it shown and not red (%s)", look[3], look[4])
	}
}
