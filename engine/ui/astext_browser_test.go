package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// mark is text that whoever defines a flow, starts a run, posts an event
// or answers a call may choose: markup that, put into the page as HTML or
// SVG rather than as text, adds an element with the id pwn-WHERE. It is
// well-formed XML, so that it would not merely break the SVG, and has no
// double quote, so that a name quoted on a diagram's label (graph's word)
// keeps it whole.
func mark(where string) string { return "<b id='pwn-" + where + "'>" + where + "</b>" }

// hostileFlow is a JSON flow with markup in every text a flow's author
// chooses freely (flow, step and outcome names are identifiers): the
// docs, the rpc trigger's endpoint, the await's topic and event, the rpc
// step's service and endpoint.
func hostileFlow(t *testing.T) []byte {
	t.Helper()
	doc := map[string]any{"version": 1, "flows": []any{map[string]any{
		"name": "Hostile", "doc": mark("flow-doc"), "state": "HostileState",
		"triggers": []any{map[string]any{"kind": "rpc", "endpoint": mark("trigger")}},
		"steps": []any{
			map[string]any{"name": "Paid", "doc": mark("step-doc"), "action": map[string]any{
				"kind": "await", "topic": mark("topic"), "event": mark("event"),
				"response": "Paid", "correlate": "OrderID", "timeout": "1h"}},
			map[string]any{"name": "Charge", "irreversible": true, "action": map[string]any{
				"kind": "rpc", "service": mark("service"), "endpoint": mark("endpoint"), "request": "Paid"}},
		},
	}}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noMarkup is true when no mark became an element of the page.
const noMarkup = `document.querySelector('[id^="pwn-"]') === null`

// shows checks, on the page as it is, that no mark became an element and
// that the marks of wheres are shown, as text.
func shows(t *testing.T, ctx context.Context, view string, wheres ...string) {
	t.Helper()
	if !get(t, ctx, view+": no markup", chromedp.Evaluate[bool](noMarkup)) {
		shot(t, ctx, "markup-"+view)
		t.Errorf("%s: text from the API became an element of the page", view)
	}
	text := get(t, ctx, view+": text", chromedp.Evaluate[string](`document.body.textContent`))
	for _, w := range wheres {
		if !strings.Contains(text, mark(w)) {
			t.Errorf("%s: the page does not show %q as text", view, mark(w))
		}
	}
}

// Everything the page shows from the API is text: markup in a flow's
// docs and names, a run's state and correlation value, an event's
// payload and an error a service answered is shown as it is, on every
// view and on the diagrams, and runs nothing (an admin's page, the open
// API).
func TestBrowserShowsDataAsText(t *testing.T) {
	caller := runtime.NewMemoryCaller()
	caller.Handle(mark("service"), mark("endpoint"), func(context.Context, json.RawMessage) (any, error) {
		return nil, runtime.Permanent(errors.New(mark("error")))
	})
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Caller: caller})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("hostile.json", hostileFlow(t)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	url := serve(t, e)
	bg := context.Background()
	state := func(corr string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{"OrderID": mark(corr), "Note": mark("state")})
		return b
	}
	waiting, err := e.StartRun(bg, "Hostile", state("corr-waiting"), "")
	if err != nil {
		t.Fatal(err)
	}
	failed, err := e.StartRun(bg, "Hostile", state("corr-failed"), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{waiting, failed} {
		waitState(t, e, id, runtime.StateWaiting)
	}
	payload, _ := json.Marshal(map[string]string{runtime.CorrelationField: mark("corr-failed"), "Note": mark("payload")})
	if _, err := e.PublishEvent(bg, engine.Message{Topic: mark("topic"), Event: mark("event"), Payload: payload}); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, failed, runtime.StateFailed)

	ctx := browser(t)
	run(t, ctx, "the runs", chromedp.Navigate(url+"/ui/#/runs"), rowsAre(failed, waiting)) // newest first
	shows(t, ctx, "runs", "corr-waiting", "corr-failed")

	run(t, ctx, "the waiting run", goTo("#/run/"+waiting),
		chromedp.WaitReady(chromedp.CSS(current("Paid"))),
		chromedp.WaitReady(chromedp.CSS(`#run-wait .panel`)),
		chromedp.Click(chromedp.CSS(`#run-diagram .fg-step[data-step="Paid"] rect`)),
		chromedp.WaitReady(chromedp.CSS(`.node-details h3`)),
	)
	shows(t, ctx, "waiting run", "topic", "event", "corr-waiting", "state", "step-doc", "service", "endpoint")

	run(t, ctx, "the failed run", goTo("#/run/"+failed),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="failed"]`)),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-step.fg-failed[data-step="Charge"]`)),
	)
	h, err := e.History(ctx, failed)
	if err != nil {
		t.Fatal(err)
	}
	var woken uint64 // the event that the awaited event ended the wait with: its payload
	for _, ev := range h {
		if len(ev.Payload) > 0 && strings.Contains(string(ev.Payload), "pwn-payload") {
			woken = ev.Seq
		}
	}
	if woken == 0 {
		t.Fatal("no event of the run holds the awaited payload")
	}
	run(t, ctx, "the event's payload", poll(fmt.Sprintf(`(() => {
		if (document.querySelector('#timeline tr.selected[data-seq="%d"]')) return true;
		const row = document.querySelector('#timeline tr[data-seq="%d"]');
		if (row) row.click();
		return false;
	})()`, woken, woken)))
	get(t, ctx, "the event's state", stateShown())
	shows(t, ctx, "failed run", "error", "payload", "corr-failed")

	run(t, ctx, "the flows", goTo("#/flows"),
		flowShows("Hostile", `svg .fg-step[data-step="Charge"]`),
		chromedp.Click(chromedp.CSS(`section[data-flow="Hostile"] svg .fg-step[data-step="Paid"] rect`)),
		chromedp.WaitReady(chromedp.CSS(`section[data-flow="Hostile"] h3`)),
	)
	shows(t, ctx, "flows", "trigger", "topic", "event", "step-doc", "service", "endpoint")
	shot(t, ctx, "flows")

	// The page of `flowgen graph -format html`, which has the same SVG.
	f, ds := dsl.DecodeJSON("hostile.json", hostileFlow(t))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	run(t, ctx, "the HTML page", chromedp.Navigate(graphPage(t, f, "")),
		chromedp.Click(chromedp.CSS(`svg .fg-step[data-step="Paid"] rect`)),
		chromedp.WaitReady(chromedp.CSS(`#details pre`)),
	)
	shows(t, ctx, "HTML page", "trigger", "topic", "event", "step-doc", "service", "endpoint")
}

// waitState waits until run id is in state s.
func waitState(t *testing.T, e *engine.Engine, id string, s runtime.RunState) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := e.Status(context.Background(), id)
		if err == nil && st.State == s {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: %s (%v), want %s", id, st.State, err, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
