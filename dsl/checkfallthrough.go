package dsl

import (
	"slices"

	"github.com/flowgen/flowgen/diag"
)

// chooseFallThrough warns (choose-fallthrough) about each target of choose
// step s that, by its default route, goes on to another target of the same
// choose: with no `on` line for ok (or for an outcome it declares), a step
// goes on to the next one in the file, so in
//
//	step Route { choose { when Gold -> Concierge  otherwise -> Ship } }
//	step Concierge { ... }
//	step Ship { ... }
//
// a run routed to Concierge runs Ship too, which the choose meant as the
// other way. A warning, not an error: going on may be meant (an extra step
// before the common one), and `on ok -> Ship` says so. Only the step that
// directly follows counts, as a step between them that is no target is
// where the ways meet, and targets are steps of f's body (a branch cannot
// be one: branch-target), so a target that is a parallel block falls
// through as any step does, by its own `on` lines. index is firstIndexes.
func (c *checker) chooseFallThrough(f *Flow, s *Step, index map[string]int) {
	targets := map[int]bool{}
	for _, e := range s.Action.ChoiceEdges() {
		if j, ok := index[e.Target.Name]; ok && f.Steps[j] != s {
			targets[j] = true
		}
	}
	order := make([]int, 0, len(targets))
	for j := range targets {
		order = append(order, j)
	}
	slices.Sort(order)
	join := TargetDone // where the ways of the choose likely meet
	if len(order) > 0 {
		if n, ok := f.nextIndex(order[len(order)-1]); ok && f.Steps[n] != s {
			join = f.Steps[n].Name
		}
	}
	for _, j := range order {
		n, ok := f.nextIndex(j)
		if !ok || !targets[n] {
			continue
		}
		var through []string // its outcomes that go on to the next step
		for _, e := range f.edgesAt(j) {
			if e.IsDefault() && !IsFailure(e.Outcome) {
				through = append(through, e.Outcome)
			}
		}
		if len(through) == 0 {
			continue
		}
		t, next, o := f.Steps[j], f.Steps[n], through[0]
		end := diag.Sprintf("`on %s -> done` (which ends the run)", o)
		if join != TargetDone {
			end = diag.Sprintf("`on %s -> %s` (the step after the choose's last target, where its ways likely meet) or `on %s -> done`", o, diag.Cut(join), o)
		}
		c.add(diag.Warnf(pick(t.NameRange, t.Range), "choose-fallthrough", "%s %q, a target of the choose in step %q, goes on to %q, another of its targets, when it ends %s (with no `on` line for it, a step goes on to the next one in the file): a run the choose sends to %q runs %q too",
			stepNoun(t), t.Name, s.Name, next.Name, diag.OrList(through), t.Name, next.Name).
			WithHint("end it with %s; if going on to %q is meant, say so: `on %s -> %s`", end, next.Name, o, diag.Cut(next.Name)))
	}
}
