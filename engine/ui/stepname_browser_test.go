package ui_test

// The timeline's Step column keeps each name to one line, a long one cut
// with an ellipsis and read whole in its title (and by a screen reader,
// which reads the cell's text): a name broken at each of its words made
// a row several lines tall, its name hard to read, while the timeline
// still fits its column at 1280 px (TestBrowserLongStepNameWraps).

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

func TestBrowserTimelineStepOneLine(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	wide := v.start("Wide", `{"K": "k"}`)
	fork := v.start("Fork", `{"Item": "box"}`)
	v.await(wide, runtime.StateDone)
	v.await(fork, runtime.StateFailed)
	run(t, ctx, "a window 1280 px wide", chromedp.EmulateViewport(1280, 900))
	signIn(t, ctx, v.url+"/ui/#/run/"+wide, clientToken, false)
	const steps = `#timeline tbody td:nth-child(3)`
	for _, c := range []struct{ name, id, step string }{
		{"1-wide", wide, "ReserveTheWholeWarehouseStockForTheCustomerWhoOrderedEverythingAndThenShipItToTheFarAwayDestinationBeforeTheEndOfTheWeek"},
		{"2-fork", fork, "ShipToTheFarAwayDestination (branch)"},
	} {
		run(t, ctx, c.name, goTo("#/run/"+c.id), chromedp.WaitReady(chromedp.CSS(`#timeline tr[data-seq="2"]`)))
		if !get(t, ctx, "the steps", chromedp.Evaluate[bool](textOneLine(steps))) {
			t.Errorf("%s: a step's name takes several lines in the timeline", c.name)
		}
		titles := get(t, ctx, "the titles", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("`+steps+` [title]"), e => e.title)`))
		found := false
		for _, ti := range titles {
			found = found || ti == c.step
		}
		if !found {
			t.Errorf("%s: no step's title reads %q whole: %q", c.name, c.step, titles)
		}
		box := get(t, ctx, "the timeline's box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(document.querySelector("#timeline").parentNode)`))
		if box[0] > box[1] {
			t.Errorf("%s: the timeline is %d px wide in a box of %d px: it scrolls sideways", c.name, box[0], box[1])
		}
		shot(t, ctx, c.name)
	}
}

// textOneLine is a script true when the text of every cell the selector
// finds is laid out on one line: the line boxes of its text nodes, each
// counted by a Range (oneLine's Range over the cell's contents counts an
// element's box too, whose top is not its text's).
func textOneLine(sel string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).every(c => {
		const tops = new Set(), w = document.createTreeWalker(c, NodeFilter.SHOW_TEXT);
		for (let n = w.nextNode(); n; n = w.nextNode()) {
			const r = document.createRange();
			r.selectNodeContents(n);
			Array.from(r.getClientRects()).forEach(x => tops.add(Math.round(x.top)));
		}
		return tops.size <= 1;
	})`, sel)
}

// The runs list's Step column likewise: a long name on one line, cut
// with an ellipsis and whole in its title, rather than broken anywhere,
// mid-word, into a row ten lines tall.
func TestBrowserRunsStepOneLine(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	const step = "ReserveTheWholeWarehouseStockForTheCustomerWhoOrderedEverythingAndThenShipItToTheFarAwayDestinationBeforeTheEndOfTheWeek"
	wide := v.start("Wide", `{"K": "k"}`)
	v.await(wide, runtime.StateDone)
	v.start("Payment", `{"OrderID": "o-1"}`)
	run(t, ctx, "a window 1280 px wide", chromedp.EmulateViewport(1280, 900))
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	cell := `#runs tr[data-run="` + wide + `"] td:nth-child(4)`
	run(t, ctx, "the runs", poll(`document.querySelectorAll("#runs tbody tr[data-run]").length === 2`))
	if !get(t, ctx, "the step", chromedp.Evaluate[bool](textOneLine(cell))) {
		t.Errorf("the step's name takes several lines in the runs list")
	}
	if got := get(t, ctx, "its title", chromedp.Evaluate[string](`(document.querySelector('`+cell+` [title]') || {}).title || ""`)); got != step {
		t.Errorf("the step's title reads %q, want the name whole", got)
	}
	if got := get(t, ctx, "the runs' box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(document.querySelector("#runs").parentNode)`)); got[0] > got[1] {
		t.Errorf("the runs list is %d px wide in a box of %d px: it scrolls sideways", got[0], got[1])
	}
	shot(t, ctx, "runs")
}

// The timeline's From → To likewise: on one line, each state cut with an
// ellipsis if it must and both whole in the title, as the Step column,
// rather than broken at each word of a long name into a row several
// lines tall; the timeline still fits its column at 1280 px.
func TestBrowserTimelineFromToOneLine(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	const step = "ReserveTheWholeWarehouseStockForTheCustomerWhoOrderedEverythingAndThenShipItToTheFarAwayDestinationBeforeTheEndOfTheWeek"
	wide := v.start("Wide", `{"K": "k"}`)
	v.await(wide, runtime.StateDone)
	run(t, ctx, "a window 1280 px wide", chromedp.EmulateViewport(1280, 900))
	signIn(t, ctx, v.url+"/ui/#/run/"+wide, clientToken, false)
	const states = `#timeline tbody td:nth-child(4) .one-line`
	run(t, ctx, "the timeline", chromedp.WaitReady(chromedp.CSS(`#timeline tr[data-seq="2"]`)))
	if !get(t, ctx, "the states", chromedp.Evaluate[bool](textOneLine(states))) {
		t.Error("a From → To takes several lines in the timeline")
	}
	titles := get(t, ctx, "the titles", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("`+states+`"), e => e.title)`))
	found := false
	for _, ti := range titles {
		found = found || ti == "pending → "+step+":running"
	}
	if !found {
		t.Errorf("no From → To's title reads the states whole: %q", titles)
	}
	box := get(t, ctx, "the timeline's box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(document.querySelector("#timeline").parentNode)`))
	if box[0] > box[1] {
		t.Errorf("the timeline is %d px wide in a box of %d px: it scrolls sideways", box[0], box[1])
	}
	shot(t, ctx, "fromto")
}
