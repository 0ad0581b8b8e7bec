package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
)

// comboCases run combo/combo.flow, whose constructs the suite's other
// flows have one at a time, together.
var comboCases = []conformanceCase{
	// The block, the call, the choose's otherwise, a sleep already due,
	// Ship's second attempt inside its deadline.
	{name: "combo-done", flow: "Combo", state: comboState("k1", 40, "2000-01-01T00:00:00Z"),
		script: script{"Parcel.Send": {fail, ok}}, want: runtime.StateDone},
	// The choose after the call routes to the await, whose event, sent
	// during the call, carries the correlation at order.id.
	{name: "combo-approved", flow: "Combo", state: comboState("k2", 900, "2000-01-01T00:00:00Z"),
		script: script{"Card.Charge": {stuck}}, then: []step{deliverOrder("k2")}, want: runtime.StateDone},
	// No time for Ship's third attempt: the run fails and rolls back the
	// branches' Go rollbacks, Reserve's (completed last: it answers once
	// Authorize has completed) first.
	{name: "combo-ship-out-of-time", flow: "Combo", state: comboState("k3", 40, "2000-01-01T00:00:00Z"),
		script: script{"Stock.Reserve": {stuck}, "Parcel.Send": {fail}}, then: []step{releaseAfterCompleted("Authorize")}, want: runtime.StateCompensated},
	// An await that times out, after the call, rolls back the block.
	{name: "combo-approval-times-out", flow: "Combo", state: comboState("k4", 900, "2000-01-01T00:00:00Z"),
		script: script{"Stock.Reserve": {stuck}}, then: []step{releaseAfterCompleted("Authorize")}, want: runtime.StateCompensated},
	// A sleep until a far time cut by its deadline.
	{name: "combo-sleep-cut", flow: "Combo", state: comboState("k5", 40, "2999-01-01T00:00:00Z"),
		script: script{"Stock.Reserve": {stuck}}, then: []step{releaseAfterCompleted("Authorize")}, want: runtime.StateCompensated},
}

func comboState(orderID string, amount int, settleAt string) string {
	return fmt.Sprintf(`{"OrderID":%q,"Item":"lamp","Amount":%d,"Invoice":{"Amount":%d},"SettleAt":%q}`, orderID, amount, amount, settleAt)
}

// deliverOrder posts the approval of order orderID while the run is in
// Bill (its child's Card.Charge, stuck, is released only then), its
// correlation where Combo's await reads it (order.id): the approval is
// there before the run can reach Approve, which takes it as it begins.
// Posted once the run waited (the call's wait, or the await's), it raced
// Approve's 2 s timeout, which under load fired first on one executor
// only. Both keep an event the run does not await yet (the runtime's
// bus, Temporal's signal channel).
func deliverOrder(orderID string) step {
	return func(t *testing.T, s *side, runID string) {
		waitCalled(t, s, runID, "Card.Charge")
		payload := fmt.Sprintf(`{"order": {"id": %q}, "ok": true}`, orderID)
		if _, err := s.eng.PublishEvent(context.Background(), engine.Message{ID: "approval-" + runID, Topic: "approvals", Event: "decided", Payload: json.RawMessage(payload)}); err != nil {
			t.Fatal(err)
		}
		s.svc.release()
	}
}

// TestCombinations runs comboCases on the runtime and on a real Temporal
// server and compares them; the rollbacks of the block must run newest
// completion first on both.
func TestCombinations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	docs := []string{flowJSON(t, filepath.Join("combo", "combo.flow"))}
	ts := newServer(t)
	for i, c := range comboCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := c.compare(t, ts, fmt.Sprintf("combo-%d", i), docs)
			var undone []string
			if u, ok := got.State["Undone"].([]any); ok {
				for _, name := range u {
					undone = append(undone, fmt.Sprint(name))
				}
			}
			want := map[runtime.RunState][]string{runtime.StateCompensated: {"Release", "Void"}}[c.want]
			if !slices.Equal(undone, want) {
				t.Errorf("the block's Go rollbacks ran %v, want %v", undone, want)
			}
		})
	}
}
