package dsl_test

import (
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// A call cycle through 3,000 flows is one diagnostic of a few lines: its
// first and last hops and how many between, not every flow named three
// times over (51 KB before).
func TestLongCallCycleBounded(t *testing.T) {
	src := callChain(3000) + "flow Back {\n    state S\n    step A {\n        call F0\n        irreversible\n    }\n}\n"
	src = strings.Replace(src, "flow F2999 {\n    state S\n    step A {\n        irreversible", "flow F2999 {\n    state S\n    step A {\n        call Back\n        irreversible", 1)
	f, ds := flowfile.Parse("big.flow", []byte(src))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	var cycles []string
	for _, d := range dsl.Check(f, dsl.CheckOptions{}) {
		if d.Code == "call-cycle" {
			cycles = append(cycles, d.String()+"\n"+d.Hint)
		}
	}
	if len(cycles) != 1 {
		t.Fatalf("%d call-cycle diagnostics, want 1", len(cycles))
	}
	got := cycles[0]
	if len(got) > 2000 || !strings.Contains(got, "F0 -> F1 -> F2 -> F3 -> F4 -> F5 -> … 2994 more -> Back -> F0") ||
		!strings.Contains(got, `flow "F0" calls itself through "F1", "F2", "F3", "F4", "F5", "F6", … 2992 more, "F2999", "Back"`) || !strings.Contains(got, `flow F5, … 2993 more, the call of step "A" of flow F2999`) {
		t.Errorf("the cycle's diagnostic (%d bytes):\n%.3000s", len(got), got)
	}
}
