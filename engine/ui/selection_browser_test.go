package ui_test

// Text a user selects to copy (a correlation value in the runs list, a
// value of an event's state) stays selected while the page follows the
// runs live, as long as that text is still shown: a redraw that replaced
// it with the same text dropped the selection at every event of any run.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// selectIn selects the text of the element sel finds, from its character
// from to to.
func selectIn(sel string, from, to int) chromedp.Action[chromedp.Void] {
	return js(fmt.Sprintf(`(() => {
		const e = document.querySelector(%q), n = e.firstChild, r = document.createRange();
		r.setStart(n, %d); r.setEnd(n, %d);
		getSelection().removeAllRanges(); getSelection().addRange(r);
	})()`, sel, from, to))
}

const selected = `String(getSelection())`

func TestBrowserListKeepsSelection(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	first := v.start("Payment", `{"OrderID": "order-4711"}`)
	v.await(first, runtime.StateWaiting)
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	cell := fmt.Sprintf(`#runs tr[data-run=%q] td:nth-child(5)`, first)
	run(t, ctx, "select the correlation value", rowsAre(first), selectIn(cell, 0, len("order-4711")))
	if got := get(t, ctx, "the selection", chromedp.Evaluate[string](selected)); got != "order-4711" {
		t.Fatalf("selected %q", got)
	}
	// Another run starts and moves: the list is read again, twice.
	second := v.start("Payment", `{"OrderID": "o-2"}`)
	v.await(second, runtime.StateWaiting)
	run(t, ctx, "the new run listed", rowsAre(second, first))
	if got := get(t, ctx, "the selection", chromedp.Evaluate[string](selected)); got != "order-4711" {
		t.Errorf("after a live redraw of the list, the selection is %q, want order-4711 still", got)
	}
}

func TestBrowserEventStateKeepsSelection(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, `, "F%d": "value %d"`, i, i)
	}
	id := v.start("Long", `{"K": "k-1"`+b.String()+`}`)
	v.await(id, runtime.StateWaiting)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "event 1's state", chromedp.WaitReady(chromedp.CSS(current("First"))),
		chromedp.Click(chromedp.CSS(`#timeline tr[data-seq="1"]`)),
		poll(`document.querySelector("#run-state").textContent.indexOf("F99") >= 0`))
	text := get(t, ctx, "the state", chromedp.Evaluate[string](`document.querySelector("#run-state").textContent`))
	at := strings.Index(text, `"value 42"`)
	run(t, ctx, "select a value", selectIn("#run-state", at, at+len(`"value 42"`)))
	// The run moves: the head and the panels are drawn anew; the state
	// shown, event 1's, is the same.
	v.publish("go", "first", `{"correlation_id": "k-1"}`)
	run(t, ctx, "the run moved", chromedp.WaitReady(chromedp.CSS(current("Second"))))
	if got := get(t, ctx, "the selection", chromedp.Evaluate[string](selected)); got != `"value 42"` {
		t.Errorf("after a live redraw, the selection in event 1's state is %q, want %q still", got, `"value 42"`)
	}
}

// The run's head is drawn anew at each event of the run: text selected in
// it that it still shows (the flow's name, an error) stays selected.
func TestBrowserRunHeadKeepsSelection(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Long", `{"K": "k-1"}`)
	v.await(id, runtime.StateWaiting)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "select the flow's name", chromedp.WaitReady(chromedp.CSS(current("First"))),
		selectIn(`#run-head dd a`, 0, len("Long")))
	v.publish("go", "first", `{"correlation_id": "k-1"}`)
	run(t, ctx, "the run moved", chromedp.WaitReady(chromedp.CSS(current("Second"))),
		poll(`document.querySelector("#run-step").textContent === "Second"`))
	if got := get(t, ctx, "the selection", chromedp.Evaluate[string](selected)); got != "Long" {
		t.Errorf("after a live redraw of the head, the selection is %q, want Long still", got)
	}
}

// A row of the run's head that comes or goes (the run's error, once a
// step fails) leaves the text selected in another row selected: the
// head's list was drawn anew whenever its rows were not as many as
// before.
func TestBrowserRunHeadKeepsSelectionAsRowsCome(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	// Checkout's Ship fails for good: the run rolls back Charge, its
	// error shown in a row of its own.
	id := v.start("Checkout", `{"Item": "book", "Refund": {"OrderID": "o-8"}}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "select the flow's name", chromedp.WaitReady(chromedp.CSS(current("Charge"))),
		poll(`document.querySelector("#run-step") !== null`),
		selectIn(`#run-head dd a`, 0, len("Checkout")))
	rows := `document.querySelectorAll("#run-head dt").length`
	before := get(t, ctx, "the head's rows", chromedp.Evaluate[int](rows))
	v.gates.release("Pay.Charge")
	run(t, ctx, "the error shown", chromedp.WaitReady(chromedp.CSS(`#run-head #run-error`)))
	if after := get(t, ctx, "the head's rows", chromedp.Evaluate[int](rows)); after == before {
		t.Fatalf("the head has %d rows before and after the error: the test needs a row to come", after)
	}
	if got := get(t, ctx, "the selection", chromedp.Evaluate[string](selected)); got != "Checkout" {
		t.Errorf("after the head gained a row, the selection is %q, want Checkout still", got)
	}
}
