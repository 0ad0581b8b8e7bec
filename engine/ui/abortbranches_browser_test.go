package ui_test

// An abort while a parallel block's branches are in flight cuts each
// branch short: the timeline's rows of those branches, which carry the
// cancellation's error, read as the interrupted step's row does (grey,
// "interrupted"), not as failures (red): the run is aborting, and no
// branch failed.

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// Both packs and charges at the same time, each rpc held by the test.
const bothFlow = `
flow Both {
    state BothState
    trigger rpc "Both.Start"

    parallel Prepare {
        step Pack {
            rpc stock "Stock.Reserve" (Item) -> Packed
            rollback rpc stock "Stock.Release" (Packed)
        }
        step Charge {
            rpc pay "Pay.Charge" (Item) -> Receipt
            irreversible
        }
    }
    step Ship {
        publish shipping "ship" (Item)
        irreversible
    }
}
`

func TestBrowserAbortParallelBranches(t *testing.T) {
	v := newEnv(t)
	v.putFlows("both.flow", bothFlow)
	ctx := browser(t)
	id := v.start("Both", `{"Item": "vase"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, adminToken, true)
	branch := func(step, class string) string {
		return fmt.Sprintf(`#run-diagram .fg-node.fg-branch.%s[data-step=%q]`, class, step)
	}
	run(t, ctx, "both branches in flight",
		chromedp.WaitReady(chromedp.CSS(branch("Pack", "fg-current"))),
		chromedp.WaitReady(chromedp.CSS(branch("Charge", "fg-current"))),
		chromedp.WaitVisible(chromedp.CSS("#abort")))
	run(t, ctx, "abort",
		freezeClock, // the arming lasts until the confirmation
		chromedp.Click(chromedp.CSS("#abort")),
		chromedp.Click(chromedp.CSS("#abort")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="aborted"]`)))
	if s := v.state(id); s != runtime.StateAborted {
		t.Fatalf("the store says %s", s)
	}
	// The timeline has read the abort once its row is there.
	run(t, ctx, "the abort's row", poll(`Array.from(document.querySelectorAll("#timeline tbody tr")).some(r => r.innerText.includes("→ aborting"))`))
	shot(t, ctx, "aborted")
	rows := get(t, ctx, "the timeline", chromedp.Evaluate[[][]string](`(() => {
		const red = getComputedStyle(document.querySelector("#notice")).color; // the red of an error
		return Array.from(document.querySelectorAll("#timeline tbody tr")).map(tr => [
			tr.innerText.replace(/\s+/g, " ").trim(), tr.className,
			tr.querySelector("td.err-col").textContent ? (getComputedStyle(tr.querySelector("td.err-col")).color === red ? "red" : "not red") : ""])
	})()`))
	branches := 0
	for _, r := range rows {
		t.Logf("%q", r)
		if strings.Contains(r[1], "ev-error") || r[2] == "red" {
			t.Errorf("row %q looks failed (class %q, error %s): the run was aborted, nothing failed", r[0], r[1], r[2])
		}
		if (strings.Contains(r[0], "Pack") || strings.Contains(r[0], "Charge")) && r[2] != "" {
			branches++
			if !strings.Contains(r[0], "interrupted") {
				t.Errorf("the row of a branch the abort cut short: %q, want it marked interrupted", r[0])
			}
		}
	}
	if branches != 2 {
		t.Errorf("%d rows of a branch cut short with its error, want 2 (Pack, Charge)", branches)
	}
	// The branches' table says so too.
	run(t, ctx, "the branches' table", chromedp.WaitReady(chromedp.CSS(`#run-branches tr[data-branch="Charge"]`)))
	table := get(t, ctx, "the branches' table", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#run-branches tbody tr")).map(r => r.innerText.replace(/\s+/g, " ").trim() + (r.querySelector(".error") ? " [red]" : ""))`))
	want := []string{"Pack Prepare:parallel interrupted", "runtime: run aborted: context canceled", "Charge Prepare:parallel interrupted", "runtime: run aborted: context canceled"}
	if !slices.Equal(table, want) {
		t.Errorf("the branches' table reads %q, want %q", table, want)
	}
	// And the diagram lights both branch boxes as cut short, not failed.
	run(t, ctx, "the branches' boxes",
		chromedp.WaitReady(chromedp.CSS(branch("Pack", "fg-interrupted"))),
		chromedp.WaitReady(chromedp.CSS(branch("Charge", "fg-interrupted"))))
	if n := get(t, ctx, "failed boxes", chromedp.Evaluate[int](`document.querySelectorAll("#run-diagram .fg-node.fg-failed").length`)); n != 0 {
		t.Errorf("%d boxes lit failed, want none: the run was aborted", n)
	}
}
