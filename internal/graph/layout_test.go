package graph

import (
	"fmt"
	"testing"

	"github.com/flowgen/flowgen/dsl"
)

// TestLayoutLinearInSteps checks that a flow whose every step has a
// rollback lays out with a number of vertices (boxes and the dummies of
// edges that cross ranks) proportional to its steps. With the compensation
// chain laid out below the last step, each step's failure edge crossed
// every rank down to its undo state: 400 steps made 159,607 vertices (805
// now) and a 2,000-step diagram took 38.6 s (docs/benchmarks.md).
// Counting vertices rather than timing keeps the test exact on a loaded
// machine.
func TestLayoutLinearInSteps(t *testing.T) {
	for _, n := range []int{50, 400} {
		steps := make([]*dsl.Step, n)
		for i := range steps {
			steps[i] = goStep(fmt.Sprintf("S%d", i), withRollback(fmt.Sprintf("Undo%d", i)))
		}
		d, err := build(flowOf("Big", steps...), "")
		if err != nil {
			t.Fatal(err)
		}
		L := layoutFlow(d.flows[0])
		// Per step: its box and its undo state's; the edges to the
		// terminals add dummies once.
		if limit := 4 * n; len(L.verts) > limit {
			t.Errorf("%d steps: %d vertices in the layout, want at most %d", n, len(L.verts), limit)
		}
	}
}
