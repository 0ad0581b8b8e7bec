package dsl

import (
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
)

// WaitFreeCycles returns the groups of steps that outcome jumps connect in
// a cycle (a step routed back to itself, or steps that reach each other)
// with no step among them that waits (KindSpec.Waits: an await, a sleep,
// a call): a run that enters one can go round it without ever waiting,
// recording events until its history bound (runtime.WithMaxHistory)
// fails it. The waiting steps are left out of the graph, not only out of
// the groups: a cycle through a wait may hold a shorter one that skips it
// (Poll -> Decide -> Poll beside Poll -> Decide -> Sleep -> Poll), which
// a run can go round forever.
func (f *Flow) WaitFreeCycles() [][]*Step {
	return f.cycles(func(s *Step) bool { return !s.Spec().Waits })
}

// StillCycles returns the groups of steps that outcome jumps connect in a
// cycle of steps that change nothing (stillStep): nothing in it writes
// the state, so each choose of it decides as it did the round before, and
// a run that goes round it once goes round it forever, sleep after sleep.
// A cycle of chooses alone is also wait-free (WaitFreeCycles).
func (f *Flow) StillCycles() [][]*Step {
	return f.cycles(stillStep)
}

// stillStep reports whether a step changes nothing and always ends the
// same way on the same state: a choose, or a sleep without publications
// (which could fail) and without a deadline that could time it out (none,
// or one longer than a `sleep D`, which wakes first whatever the
// restarts: the recorded times decide). A sleep ends ok; a second `sleep
// until` of the same time wakes at once.
func stillStep(s *Step) bool {
	if s.Action == nil {
		return false
	}
	switch s.Action.Kind {
	case ActionChoose:
		return true
	case ActionSleep:
		d := s.Action.Duration
		return len(s.Publish) == 0 && (s.Deadline == 0 || s.Action.Until == nil && d > 0 && s.Deadline > d)
	case ActionGo, ActionRPC, ActionAwait, ActionPublish, ActionCall:
		return false // each may write the state, or end otherwise on the same state (a service, an event, a child run, a failure)
	}
	return false
}

// cycles returns the groups of steps that keep accepts and that outcome
// jumps connect in a cycle, through steps it accepts only. Each group is a
// strongly connected component of the graph of those steps, its steps in
// file order; the groups are in the file order of their first step.
func (f *Flow) cycles(keep func(*Step) bool) [][]*Step {
	var steps []int // indexes of the non-nil steps, the graph's nodes
	for i, s := range f.Steps {
		if s != nil {
			steps = append(steps, i)
		}
	}
	index := f.firstIndexes()
	succ := func(i int) []int {
		var out []int
		for _, j := range f.successors(i, index) {
			if keep(f.Steps[j]) {
				out = append(out, j)
			}
		}
		return out
	}
	var roots []int
	for _, i := range steps {
		if keep(f.Steps[i]) {
			roots = append(roots, i)
		}
	}
	comps := components(len(f.Steps), roots, succ)
	of := make([]int, len(f.Steps)) // the cyclic component of each step, or -1
	for i := range of {
		of[i] = -1
	}
	for c, g := range comps {
		if cyclic(g, succ) {
			for _, i := range g {
				of[i] = c
			}
		}
	}
	// One pass in file order puts each group's steps, and the groups, in
	// file order (Tarjan's gives them in reverse topological order).
	slot := make([]int, len(comps)) // a component's group in out, or -1
	for c := range slot {
		slot[c] = -1
	}
	var out [][]*Step
	for _, i := range steps {
		c := of[i]
		if c < 0 {
			continue
		}
		if slot[c] < 0 {
			slot[c] = len(out)
			out = append(out, nil)
		}
		out[slot[c]] = append(out[slot[c]], f.Steps[i])
	}
	return out
}

// loops warns of every cycle of steps with no wait in it (WaitFreeCycles),
// and of every cycle that waits but changes nothing (StillCycles), at its
// first step.
func (c *checker) loops(f *Flow) {
	for _, g := range f.WaitFreeCycles() {
		if !slices.ContainsFunc(g, func(s *Step) bool { return !stillStep(s) }) {
			// Chooses alone: no way out that the state reaches can be
			// added, as nothing of the loop writes the state.
			c.add(diag.Warnf(pick(g[0].NameRange, g[0].Range), "loop", "%s with no wait in it, in which nothing changes the state: its chooses decide the same each round, so a run that goes round it once goes round it forever, recording events until its history bound fails it", cycleWhat(g)).
				WithHint("%s", chooseLoopHint))
			continue
		}
		c.add(diag.Warnf(pick(g[0].NameRange, g[0].Range), "loop", "%s with no wait in it: a run can go round it forever, recording events until its history bound fails it", cycleWhat(g)).
			WithHint("put a wait in the loop (`sleep 30s` in a step of it, or an await), or give it a way out that its state reaches"))
	}
	for _, g := range f.StillCycles() {
		if !slices.ContainsFunc(g, func(s *Step) bool { return s.Spec().Waits }) {
			continue // reported above
		}
		c.add(diag.Warnf(pick(g[0].NameRange, g[0].Range), "loop", "%s in which nothing changes the state: its chooses decide the same each round, so a run that goes round it once goes round it forever", cycleWhat(g)).
			WithHint("%s", stillHint))
	}
}

// stillHint is how to end a cycle in which nothing changes the state: its
// sleeps can leave it with an `on ok` line.
const stillHint = "change what its choose reads in a step of the loop (a Go step, an rpc's `-> Field`, an await's payload), or leave the loop with `on ok -> Step` (a step without one goes on to the next step in file order)"

// chooseLoopHint is how to end a cycle of chooses alone. It has no step
// that could take an `on` line (a choose may have nothing but its block,
// choose-only), nor one whose reads could be changed: a step must come
// into the loop, or the jump that closes it must go.
const chooseLoopHint = "put a step that changes what its chooses read into the loop (a Go step, an rpc's `-> Field`, an await's payload), or send the `when` or `otherwise` line that goes round the loop to a step outside it"

// cycleWhat names the steps of a cycle, in a diagnostic: a parallel block
// of it as one, so that the user looks for a block, not a step, of that
// name.
func cycleWhat(g []*Step) string {
	if len(g) == 1 {
		return stepNoun(g[0]) + diag.Sprintf(" %q goes back to itself", g[0].Name)
	}
	names := make([]string, len(g))
	for i, s := range g {
		names[i] = diag.Sprintf("%q", s.Name)
		if s.IsBlock() {
			names[i] += " (a parallel block)"
		}
	}
	return "steps " + strings.Join(names, ", ") + " form a cycle"
}
