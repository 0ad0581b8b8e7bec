package ui_test

// A run's state is shown as the server sent it: JSON.parse reads a number
// beyond a double's precision (an int64 ID, 9007199254740993) as another
// one (9007199254740992), which the page would show as the run's.

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

func TestBrowserStateNumbersExact(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-1", "N": 9007199254740993, "Deep": {"List": [1, {"M": 12345678901234567890}], "Empty": {}}}`)
	v.await(id, runtime.StateWaiting)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "the run", chromedp.WaitReady(chromedp.CSS(current("AwaitPaid"))))
	want := []string{`"N": 9007199254740993`, `"M": 12345678901234567890`, `"Empty": {}`}
	latest := get(t, ctx, "the latest state", stateShown())
	run(t, ctx, "event 1's state", chromedp.Click(chromedp.CSS(`#timeline tr[data-seq="1"]`)),
		chromedp.WaitReady(chromedp.CSS(`#timeline tr.selected[data-seq="1"]`)))
	picked := get(t, ctx, "event 1's state", stateShown())
	for _, w := range want {
		if !strings.Contains(latest, w) {
			t.Errorf("the latest state shows no %s:\n%s", w, latest)
		}
		if !strings.Contains(picked, w) {
			t.Errorf("event 1's state shows no %s:\n%s", w, picked)
		}
	}
	// An event's payload too.
	v.publish("payments", "paid", `{"correlation_id": "o-1", "Amount": 90071992547409931}`)
	run(t, ctx, "paid", chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)),
		chromedp.WaitReady(chromedp.CSS(`#timeline tr[data-seq="2"]`)),
		chromedp.Click(chromedp.CSS(`#timeline tr[data-seq="2"]`)),
		chromedp.WaitReady(chromedp.CSS(`#timeline tr.selected[data-seq="2"]`)))
	if got := get(t, ctx, "event 2's payload", stateShown()); !strings.Contains(got, `"Amount": 90071992547409931`) {
		t.Errorf("event 2's state and payload show no \"Amount\": 90071992547409931:\n%s", got)
	}
}
