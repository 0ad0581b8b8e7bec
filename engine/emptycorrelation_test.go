package engine

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A JSON flow's await whose correlate field is not in the run's state
// (its value is empty) ends with the outcome error naming the step and
// the field, as the runtime's rule says (runtime.Step.CorrelationError),
// and the run fails: it does not take an event whose correlation_id is
// the empty string, meant for whichever run. Before, it took that event
// and ended done.
func TestJSONAwaitEmptyCorrelationFails(t *testing.T) {
	fx := newFixture(t)
	const flow = `{"version": 1, "flows": [{"name": "Wait", "state": "WaitState", "steps": [
  {"name": "Paid", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment",
   "correlate": "OrderID", "timeout": "1h"}, "irreversible": true}]}]}`
	e := startWaitFlow(t, fx, flow)
	defer fx.stop()
	publish(t, fx.broker, "m1", "payments", "paid", map[string]any{"correlation_id": "", "amount": 1})
	id, err := e.StartRun(context.Background(), "Wait", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run ended", func() bool { s := runState(fx, id); return s == runtime.StateDone || s == runtime.StateFailed })
	if s := runState(fx, id); s != runtime.StateFailed {
		t.Fatalf("run %s; want failed, not the empty value's event taken", s)
	}
	h, err := e.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := `step "Paid" awaits payments paid correlated on correlation_id with field OrderID, which is empty`
	if !slices.ContainsFunc(h, func(ev runtime.Event) bool {
		return ev.From == "Paid:waiting" && ev.Outcome == runtime.OutcomeError && strings.Contains(ev.Error, want)
	}) {
		t.Fatalf("history %+v; want the outcome error %q", h, want)
	}
}
