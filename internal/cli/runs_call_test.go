package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// A child run of a call names its parent in `runs`, and `history` of the
// parent names its child (and the child's, its parent).
func TestRunsAndHistoryOfCalls(t *testing.T) {
	dir, st := newStore(t)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	child := &runtime.RunRef{Flow: "Billing", RunID: "o-1@Bill"}
	for _, e := range []runtime.Event{
		{RunID: "o-1", Seq: 1, Time: t0, Flow: "Order", Step: "Bill", From: "pending", To: "Bill:waiting",
			Wait: &runtime.Wait{Child: child}},
		{RunID: "o-1@Bill", Seq: 1, Time: t0, Flow: "Billing", Step: "Charge", From: "pending", To: "Charge:running",
			Parent: &runtime.RunRef{Flow: "Order", RunID: "o-1"}},
	} {
		e.State = json.RawMessage(`{}`)
		if err := st.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	code, out, errOut := runMain("runs", "-store", dir)
	if code != 0 || !strings.Contains(out, "o-1@Bill  Billing  running  Charge  1       2026-05-04T10:00:00.000Z  o-1\n") {
		t.Fatalf("runs: exit %d, %s%s", code, out, errOut)
	}
	code, out, _ = runMain("history", "-store", dir, "o-1")
	if code != 0 || !strings.Contains(out, "child: run o-1@Bill (flow Billing)\n") {
		t.Fatalf("history of the parent: exit %d, %s", code, out)
	}
	code, out, _ = runMain("history", "-store", dir, "o-1@Bill")
	if code != 0 || !strings.Contains(out, "parent: run o-1 (flow Order)\n") {
		t.Fatalf("history of the child: exit %d, %s", code, out)
	}
}
