package engine

import (
	"fmt"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// GET /runs/{id}/history names the events that end a branch its block
// cancelled (runtime.Event.Cancelled), whatever the attempt's own outcome,
// error or timeout, so that the web view's timeline need not copy the
// rule; a branch that failed, or timed out, by itself is not among them.
func TestHistoryAnswerCancelled(t *testing.T) {
	cut := runtime.ErrBranchCancelled.Error()
	h := []runtime.Event{
		{Seq: 1, From: "start", To: "Prepare:parallel"},
		{Seq: 2, Branch: "Ship", Step: "Ship", From: "Ship:running", To: "Prepare:parallel", Outcome: runtime.OutcomeError, Error: "no parcel service"},
		{Seq: 3, Branch: "Pack", Step: "Pack", From: "Pack:running", To: "Prepare:parallel", Outcome: runtime.OutcomeTimeout, Error: cut + ": context deadline exceeded"},
		{Seq: 4, Branch: "Label", Step: "Label", From: "Label:running", To: "Prepare:parallel", Outcome: runtime.OutcomeError, Error: cut},
		{Seq: 5, Branch: "Wrap", Step: "Wrap", From: "Wrap:running", To: "Prepare:parallel", Outcome: runtime.OutcomeTimeout, Error: "step timed out"},
	}
	if got := fmt.Sprint(historyAnswer("r", h)["cancelled"]); got != "[3 4]" {
		t.Errorf("cancelled %s, want [3 4]", got)
	}
	if got := fmt.Sprint(historyAnswer("r", nil)["cancelled"]); got != "[]" {
		t.Errorf("cancelled of no events %s, want []", got)
	}
}
