package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/growth"
	"github.com/flowgen/flowgen/runtime/store"
)

// growthJSON is a JSON flow of n steps, none with a handler: Go steps
// with Go rollbacks and parallel blocks of two Go branches, in turn.
func growthJSON(n int) string {
	steps := make([]string, 0, n)
	for i := range n {
		if i%2 == 0 {
			steps = append(steps, fmt.Sprintf(`{"name": "S%d", "action": {"kind": "go"}, "rollback": {"name": "Undo%d"}}`, i, i))
			continue
		}
		steps = append(steps, fmt.Sprintf(`{"name": "P%d", "parallel": {"branches": [`+
			`{"name": "L%d", "action": {"kind": "go"}, "writes": ["Left"], "irreversible": true}, `+
			`{"name": "R%d", "action": {"kind": "go"}, "writes": ["Right"], "irreversible": true}]}}`, i, i, i))
	}
	return `{"version": 1, "flows": [{"name": "Big", "state": "S", "steps": [` + strings.Join(steps, ",\n") + `]}]}`
}

// BenchmarkLoadGrowth plans the load (LoadFlows without registering:
// decode, check, the handler checks, compile) of a JSON flow of 1,000 and
// one of 8,000 steps (growthJSON) on an engine with remote providers, which
// serve every Go step and rollback, in each iteration, and reports the cost
// per step of the large one over the small one's (internal/growth): 1.0 is
// linear.
//
//	go test -run '^$' -bench LoadGrowth -benchtime 3x ./engine
func BenchmarkLoadGrowth(b *testing.B) {
	e, err := New(Options{Store: store.NewMemory(), ID: "bench", Providers: &ProviderOptions{}})
	if err != nil {
		b.Fatal(err)
	}
	plan := func(n int) growth.Case {
		src := []byte(growthJSON(n))
		return growth.Case{N: n, Run: func() {
			e.loadMu.Lock()
			defer e.loadMu.Unlock()
			if _, ds, err := e.plan("big.json", src, nil, nil); err != nil {
				b.Fatal(err, ds)
			}
		}}
	}
	growth.Report(b, "step", plan(1000), plan(8000))
}
