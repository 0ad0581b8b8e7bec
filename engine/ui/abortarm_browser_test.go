package ui_test

// The Abort button's arming lasts 5 s, and the button says so while it
// lasts, also when a live event redrew the run's head meanwhile.

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// An admin arms Abort, the run moves on (a live event draws the head,
// the button with it, anew), and the arming runs out: the button must
// read "Abort run" again, as a click then arms it, not "Confirm abort",
// which would promise that a click aborts.
func TestBrowserAbortDisarmsAfterRedraw(t *testing.T) {
	v := newEnv(t)
	ctx, id := armedAbort(t, v, false) // the arming runs out on the page's own clock
	if label := get(t, ctx, "label", textOf("#abort")); label != "Confirm abort" {
		t.Fatalf("after one click the button says %q", label)
	}
	v.gates.release("Stock.Reserve")
	run(t, ctx, "Charge lit", chromedp.WaitReady(chromedp.CSS(current("Charge"))))
	time.Sleep(6 * time.Second) // the arming's 5 s, and its timer's 0.1 s more
	if label := get(t, ctx, "label", textOf("#abort")); label != "Abort run" {
		t.Errorf("6 s after the arming, the run's head drawn anew, the button says %q, want %q", label, "Abort run")
	}
	shot(t, ctx, "disarmed")
	// One click now arms it again; it aborts nothing.
	run(t, ctx, "arm again", chromedp.Click(chromedp.CSS("#abort")))
	if s := v.state(id); s.Terminal() {
		t.Errorf("one click after the arming ran out aborted the run: %s", s)
	}
	if label := get(t, ctx, "label", textOf("#abort")); label != "Confirm abort" {
		t.Errorf("armed again, the button says %q", label)
	}
}
