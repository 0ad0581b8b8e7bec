package ui_test

// The timeline's rows are reached by Tab (TestBrowserTimelineByKeyboard):
// to a screen reader each must say which event it is, its step, its
// transition, its outcome and its time, not be one of many unnamed rows.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

func TestBrowserTimelineRowsNamed(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Order", `{"Item": "book"}`)
	v.gates.release("Stock.Reserve")
	v.gates.release("Pay.Charge")
	v.await(id, runtime.StateDone)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "the timeline", chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)), chromedp.WaitReady(chromedp.CSS(`#timeline tr[data-seq="3"]`)))
	// What each row shows: its number, time, step, From → To and outcome.
	rows := get(t, ctx, "the rows", chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("#timeline tbody tr"), tr => [
		tr.cells[0].textContent, tr.cells[1].title, tr.cells[2].textContent, tr.cells[3].querySelector(".one-line").title, tr.cells[5].textContent])`))
	var names []string
	for _, n := range axNodes(t, ctx) {
		if n.role == "row" && n.focusable {
			names = append(names, n.name)
		}
	}
	if len(names) != len(rows) {
		t.Fatalf("the accessibility tree has %d rows the keyboard reaches, the timeline %d: %q", len(names), len(rows), names)
	}
	seen := map[string]bool{}
	for i, r := range rows {
		name := names[i]
		if seen[name] {
			t.Errorf("two rows are named %q", name)
		}
		seen[name] = true
		for _, want := range []string{fmt.Sprintf("event %s", r[0]), r[1], r[2], r[3], r[4]} {
			if !strings.Contains(name, want) {
				t.Errorf("row %s is named %q: it does not say %q", r[0], name, want)
			}
		}
	}
	shot(t, ctx, "timeline")
}
