package ui_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// oneLine is a script true when every cell the selector finds lays its
// text out on one line (the line boxes of its text, counted by a Range).
func oneLine(sel string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).every(c => {
		const r = document.createRange();
		r.selectNodeContents(c);
		return new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size <= 1;
	})`, sel)
}

// The tables stay readable at a laptop's width and a phone's: the runs
// list's times are a line each (the list scrolls sideways in a narrow
// window; a time wrapped to three lines made every row three lines tall),
// and the timeline's errors have a column wide enough to read (squeezed to
// 127 px at 1280, an HTTP error took eight lines a row), with the timeline
// still fitting its column at 1280 px.
func TestBrowserTablesReadable(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Brittle", `{"Item": "vase"}`)
	v.await(id, runtime.StateCompensationFailed)
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	const times = `#runs tbody td:nth-child(7), #runs tbody td:nth-child(8)` // Started, Updated
	for i, w := range []int64{1280, 400} {
		run(t, ctx, fmt.Sprintf("a window %d px wide", w), chromedp.EmulateViewport(w, 900))
		run(t, ctx, "the runs", goTo("#/runs"), chromedp.WaitReady(chromedp.CSS(`#runs tbody tr[data-run]`)))
		if !get(t, ctx, "the times", chromedp.Evaluate[bool](oneLine(times))) {
			t.Errorf("%d px: a run's time takes several lines", w)
		}
		if n := get(t, ctx, "the time cells", chromedp.Evaluate[int](`document.querySelectorAll("`+times+`").length`)); n != 2 {
			t.Errorf("%d px: %d time cells in the runs list, want 2 (started, updated)", w, n)
		}
		shot(t, ctx, fmt.Sprintf("%d-runs-%d", 2*i+1, w))
		run(t, ctx, "the run", goTo("#/run/"+id), chromedp.WaitReady(chromedp.CSS(`#timeline tbody tr`)))
		// 12em of the page's 14px.
		if width := get(t, ctx, "the error column", chromedp.Evaluate[float64](`document.querySelector("#timeline th:last-child").getBoundingClientRect().width`)); width < 168 {
			t.Errorf("%d px: the timeline's error column is %.0f px wide, want 168 or more", w, width)
		}
		if w == 1280 {
			box := get(t, ctx, "the timeline's box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(document.querySelector("#timeline").parentNode)`))
			if box[0] > box[1] {
				t.Errorf("%d px: the timeline is %d px wide in a box of %d px: it scrolls sideways", w, box[0], box[1])
			}
		}
		shot(t, ctx, fmt.Sprintf("%d-run-%d", 2*i+2, w))
	}
}

// The run page's parallel branches fit their column at a laptop's width
// (a third of it): no sideways scroll, whether a branch runs or failed
// with an error, with long names (Fork). Five columns of names that do
// not wrap made the table wider than its box.
func TestBrowserBranchesReadable(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	split := v.start("Split", `{"Item": "box"}`)
	fork := v.start("Fork", `{"Item": "box"}`)
	v.await(fork, runtime.StateFailed)
	run(t, ctx, "a window 1280 px wide", chromedp.EmulateViewport(1280, 900))
	signIn(t, ctx, v.url+"/ui/#/run/"+split, clientToken, true)
	for _, c := range []struct{ name, id, shows string }{
		{"1-split-runs", split, "Label"},
		{"2-fork-failed", fork, "no parcel service"}, // the failed branch's error
	} {
		run(t, ctx, c.name, goTo("#/run/"+c.id),
			poll(`(document.querySelector("#run-branches table") || {innerText: ""}).innerText.includes(`+strconv.Quote(c.shows)+`)`))
		// The table's box, and the panel's column.
		for _, box := range []string{`document.querySelector("#run-branches table").parentNode`, `document.querySelector("#run-branches").parentNode`} {
			got := get(t, ctx, "the branches' box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(`+box+`)`))
			if got[0] > got[1] {
				t.Errorf("%s: %s is %d px wide inside, %d px outside: it scrolls sideways", c.name, box, got[0], got[1])
			}
		}
		// No cell is wider than the table either (an overflow that
		// scrollWidth of a box with overflow visible would not show).
		if over := get(t, ctx, "the cells", chromedp.Evaluate[int](`(t => Array.from(t.querySelectorAll("td, th")).filter(c => c.scrollWidth > c.clientWidth).length)(document.querySelector("#run-branches table"))`)); over != 0 {
			t.Errorf("%s: %d cells overflow", c.name, over)
		}
		shot(t, ctx, c.name)
	}
}

// A long value the caller chose, a correlation value of hundreds of
// characters (non-ASCII and without a space) or a run ID of 128, wraps
// rather than stretches: the runs list at 1280 px still shows every
// column (the correlation made it thousands of pixels wide, the times
// scrolled out of sight), and the run page's "Waiting for" panel does
// not scroll sideways (the value ran past its edge).
func TestBrowserLongValuesWrap(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	corr := strings.Repeat("Ünïcødé-订单-", 12) + strings.Repeat("x", 300)
	id := v.start("Payment", fmt.Sprintf(`{"OrderID": %q}`, corr))
	req, _ := http.NewRequest("POST", v.url+"/flows/Payment/runs?run_id="+strings.Repeat("a", 128), strings.NewReader(`{"OrderID": "o-1"}`))
	req.Header.Set("Authorization", "Bearer "+clientToken)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("start with a run ID: %v %v", res, err)
	}
	run(t, ctx, "a window 1280 px wide", chromedp.EmulateViewport(1280, 900))
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	run(t, ctx, "the runs", poll(`document.querySelectorAll("#runs tbody tr[data-run]").length === 2`))
	if got := get(t, ctx, "the runs' box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(document.querySelector("#runs").parentNode)`)); got[0] > got[1] {
		t.Errorf("the runs list is %d px wide in a box of %d px: it scrolls sideways", got[0], got[1])
	}
	shot(t, ctx, "1-runs")
	run(t, ctx, "the run", goTo("#/run/"+id), chromedp.WaitReady(chromedp.CSS("#wait-deadline")))
	if got := get(t, ctx, "the wait's panel", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(document.querySelector("#run-wait .panel"))`)); got[0] > got[1] {
		t.Errorf("the wait's panel is %d px wide inside, %d px outside: it scrolls sideways", got[0], got[1])
	}
	shot(t, ctx, "2-run")
}

// An error without a space to wrap at (an HTTP call's, its long URL)
// wraps in the timeline's error column, anywhere if it must: the timeline
// still fits its column at 1280 px (the URL made it scroll sideways).
func TestBrowserLongErrorWraps(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Brittle", `{"Item": "long-url"}`)
	v.await(id, runtime.StateCompensationFailed)
	run(t, ctx, "a window 1280 px wide", chromedp.EmulateViewport(1280, 900))
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "the timeline", poll(`document.querySelector("#timeline").innerText.includes("connection refused")`))
	box := get(t, ctx, "the timeline's box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(document.querySelector("#timeline").parentNode)`))
	if box[0] > box[1] {
		t.Errorf("the timeline is %d px wide in a box of %d px: it scrolls sideways", box[0], box[1])
	}
	shot(t, ctx, "run")
}

// A step's name near the 128 bytes a name may take (flow Wide) keeps the
// timeline within its column at 1280 px (the name, twice in "From → To",
// made it scroll sideways): each column cuts it with an ellipsis
// (TestBrowserTimelineStepOneLine, TestBrowserTimelineFromToOneLine).
func TestBrowserLongStepNameWraps(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Wide", `{"K": "k"}`)
	v.await(id, runtime.StateDone)
	run(t, ctx, "a window 1280 px wide", chromedp.EmulateViewport(1280, 900))
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "the timeline", chromedp.WaitReady(chromedp.CSS(`#timeline tr[data-seq="2"]`)))
	box := get(t, ctx, "the timeline's box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(document.querySelector("#timeline").parentNode)`))
	if box[0] > box[1] {
		t.Errorf("the timeline is %d px wide in a box of %d px: it scrolls sideways", box[0], box[1])
	}
	shot(t, ctx, "run")
}
