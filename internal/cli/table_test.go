package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/runtime"
)

// The runs table lines its columns up as a terminal shows them: a run ID
// in CJK, with an emoji or a combining accent takes the columns a
// terminal gives it, not one per rune (or byte), so every column after it
// starts where the header's does.
func TestRunsTableAlignsWideNames(t *testing.T) {
	dir, st := newStore(t)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"o-1", "注文-1", "o-📦", "paye\u0301e"} {
		for i, e := range []runtime.Event{
			{From: "pending", To: "Reserve:running", Step: "Reserve"},
			{From: "Reserve:running", To: "done", Step: "Reserve", Attempt: 1, Outcome: "ok"},
		} {
			e.RunID, e.Flow, e.Seq, e.Time, e.State = id, "Order", uint64(i+1), t0.Add(time.Duration(i)*time.Second), json.RawMessage(`{}`)
			if err := st.Emit(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
	}
	st.Close()
	code, out, errOut := runMain("runs", "-store", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header and 4 runs:\n%s", out)
	}
	// Where FLOW starts in the header, on screen; every run's flow starts
	// there too.
	at := diag.Columns(lines[0][:strings.Index(lines[0], "FLOW")])
	for _, l := range lines[1:] {
		if got := diag.Columns(l[:strings.Index(l, "Order")]); got != at {
			t.Errorf("the flow starts in column %d, the header's in %d:\n%s", got, at, out)
		}
	}
}
