package ui_test

// A run's page lists its child runs each with its state, kept live: a
// child waiting for its event reads "waiting", and "done" once it has
// ended, with no reload.

import (
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Caller is Parent (browser_test.go) with a trigger: a client may start it.
const callerFlow = `
flow Caller {
    state CallerState
    trigger rpc "Caller.Start"

    step Give {
        call Refund (Refund)
        irreversible
    }
}
`

func TestBrowserChildRunsShowState(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	v.putFlows("caller.flow", callerFlow)
	id := v.start("Caller", `{"Refund": {"OrderID": "o-9"}}`)
	var child string
	for deadline := time.Now().Add(10 * time.Second); child == ""; {
		if st, err := v.e.Status(ctx, id); err == nil && st.Wait != nil && st.Wait.Child != nil {
			child = st.Wait.Child.RunID
		} else if time.Now().After(deadline) {
			t.Fatal("Parent's call started no child")
		}
		time.Sleep(5 * time.Millisecond)
	}
	v.await(child, "waiting")
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	li := `#run-children li[data-child="` + child + `"]`
	run(t, ctx, "the child, waiting", chromedp.WaitReady(chromedp.CSS(li+` .state.state-waiting`)))
	shot(t, ctx, "1-waiting")
	run(t, ctx, "no reload", js(`window.notReloaded = true`))
	// Nothing moves now: the page reads the child again only at an event
	// of its stream (GET /watch?children=true), never on a timer (POLL_MS
	// is 5 s).
	run(t, ctx, "count the child's reads", js(`window.childReads = 0; (function (f) { window.fetch = function (u) { if (String(u) === "/runs/" + encodeURIComponent(`+strconv.Quote(child)+`)) window.childReads++; return f.apply(this, arguments); }; })(window.fetch)`))
	time.Sleep(6 * time.Second)
	if n := get(t, ctx, "the child's reads", chromedp.Evaluate[int](`window.childReads`)); n != 0 {
		t.Errorf("the page read the child %d times while nothing moved (polling)", n)
	}
	v.publish("payments", "refunded", `{"correlation_id": "o-9"}`)
	run(t, ctx, "the child, done, live", chromedp.WaitReady(chromedp.CSS(li+` .state.state-done`)))
	if got := get(t, ctx, "the child's row", textOf(li)); got != child+" of flow Refund done" {
		t.Errorf("the child's row reads %q", got)
	}
	if !get(t, ctx, "no reload", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the page was reloaded")
	}
	shot(t, ctx, "2-done")
}
