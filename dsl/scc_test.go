package dsl

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomGraph is a graph of n nodes with about n*degree/10 edges, self
// loops included, drawn from seed.
func randomGraph(n, degree int, seed uint64) [][]int {
	r := rand.New(rand.NewPCG(seed, 0))
	succ := make([][]int, n)
	for range n * degree / 10 {
		v := r.IntN(n)
		succ[v] = append(succ[v], r.IntN(n))
	}
	return succ
}

// reaches is the transitive closure of succ, by a search from each node.
func reaches(succ [][]int) [][]bool {
	out := make([][]bool, len(succ))
	for v := range succ {
		out[v] = make([]bool, len(succ))
		stack := []int{v}
		for len(stack) > 0 {
			u := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, w := range succ[u] {
				if !out[v][w] {
					out[v][w] = true
					stack = append(stack, w)
				}
			}
		}
	}
	return out
}

// TestComponents: on random graphs, two nodes share a component exactly
// when each reaches the other, every node reached from the roots is in
// one, the components come in reverse topological order, and cyclic
// says whether a node of the component reaches itself.
func TestComponents(t *testing.T) {
	for seed := range uint64(200) {
		n := 1 + int(seed%23)
		succ := randomGraph(n, int(seed%30), seed)
		reach := reaches(succ)
		roots := []int{0, n / 2}
		comps := components(n, roots, func(v int) []int { return succ[v] })
		comp := make([]int, n)
		for i := range comp {
			comp[i] = -1
		}
		for c, g := range comps {
			for _, v := range g {
				if comp[v] >= 0 {
					t.Fatalf("seed %d: node %d in components %d and %d", seed, v, comp[v], c)
				}
				comp[v] = c
			}
			if got, want := cyclic(g, func(v int) []int { return succ[v] }), reach[g[0]][g[0]]; got != want {
				t.Errorf("seed %d: cyclic(%v) = %v, want %v", seed, g, got, want)
			}
		}
		for v := range n {
			reached := slices.Contains(roots, v) || reach[0][v] || reach[n/2][v]
			if reached != (comp[v] >= 0) {
				t.Fatalf("seed %d: node %d reached %v, in a component %v", seed, v, reached, comp[v] >= 0)
			}
			for w := range n {
				if comp[v] < 0 || comp[w] < 0 || v == w {
					continue
				}
				if same, mutual := comp[v] == comp[w], reach[v][w] && reach[w][v]; same != mutual {
					t.Errorf("seed %d: nodes %d and %d share a component %v, reach each other %v", seed, v, w, same, mutual)
				}
				if comp[v] != comp[w] && reach[v][w] && comp[v] < comp[w] {
					t.Errorf("seed %d: component %d (node %d) leads to component %d (node %d), which comes after it", seed, comp[v], v, comp[w], w)
				}
			}
		}
	}
}

// cycleLength is the number of calls of a shortest chain that leads from
// flow v of succ back to v, or 0 when none does.
func cycleLength(succ [][]int, v int) int {
	dist := map[int]int{v: 0}
	frontier := []int{v}
	for d := 1; len(frontier) > 0; d++ {
		var next []int
		for _, u := range frontier {
			for _, w := range succ[u] {
				if w == v {
					return d
				}
				if _, ok := dist[w]; !ok {
					dist[w] = d
					next = append(next, w)
				}
			}
		}
		frontier = next
	}
	return 0
}

// TestCallGraphCycle: on random files of flows calling one another (and
// flows of the package beside them, and flows no one declares), the call
// graph finds for each flow a chain of its calls that leads back to it
// and is as short as any, or none when none does.
func TestCallGraphCycle(t *testing.T) {
	cycles, none := 0, 0
	for seed := range uint64(300) {
		n := 1 + int(seed%17)
		succ := randomGraph(n, int(seed%25), seed)
		flows := map[string]*Flow{}
		f := &File{}
		for v := range n {
			fl := &Flow{Name: fmt.Sprintf("F%d", v)}
			for i, w := range succ[v] {
				callee := fmt.Sprintf("F%d", w)
				if i%5 == 4 {
					callee = "Nowhere" // a call of no flow is not followed
				}
				s := &Step{Name: fmt.Sprintf("S%d", i), Action: &Action{Kind: ActionCall, Flow: &Ident{Name: callee}}}
				if i%3 == 2 {
					s.Rollback = &Rollback{Action: &Action{Kind: ActionCall, Flow: &Ident{Name: callee}}}
				}
				fl.Steps = append(fl.Steps, s)
			}
			flows[fl.Name] = fl
			if v < n-n/3 { // the rest are the package's, beside the file
				f.Flows = append(f.Flows, fl)
			}
		}
		// The calls that lead somewhere, as the graph of the flows' numbers.
		calls := make([][]int, n)
		for v := range n {
			for _, cs := range flows[fmt.Sprintf("F%d", v)].Calls() {
				var w int
				if _, err := fmt.Sscanf(cs.Action.Flow.Name, "F%d", &w); err == nil {
					calls[v] = append(calls[v], w)
				}
			}
		}
		g := newCallGraph(f, flows)
		for v, fl := range f.Flows {
			got, want := g.cycle(fl), cycleLength(calls, v)
			if want == 0 {
				none++
			} else {
				cycles++
			}
			if len(got) != want {
				t.Errorf("seed %d: cycle of %s has %d calls, want %d: %v", seed, fl.Name, len(got), want, got)
				continue
			}
			at := fl // the flow the chain is at
			for i, h := range got {
				if h.flow != at || !slices.ContainsFunc(at.Calls(), func(cs CallSite) bool { return cs == h.site }) {
					t.Errorf("seed %d: cycle of %s: call %d is not one of flow %s", seed, fl.Name, i, at.Name)
					break
				}
				at = flows[h.site.Action.Flow.Name]
			}
			if len(got) > 0 && at != fl {
				t.Errorf("seed %d: cycle of %s ends at %s", seed, fl.Name, at.Name)
			}
		}
	}
	if cycles < 100 || none < 100 {
		t.Errorf("%d flows in a cycle, %d in none: the graphs should give many of both", cycles, none)
	}
}
