package dsl

import (
	"fmt"
	"strings"

	"github.com/flowgen/flowgen/diag"
)

// The checks of parallel blocks (parallel.go says what a block is). Codes,
// in docs/checks.md: parallel-empty, branch-route, branch-wait,
// branch-target, parallel-write, writes and branch-writes.

// branchNames indexes the branches of f's blocks by name into
// c.branchOf, and reports a Go rollback named after a branch: step names
// are one namespace, as the runtime's IDs and the handler methods are
// (stepNames reports a branch named like another step).
func (c *checker) branchNames(f *Flow, index map[string]int) {
	out := map[string]*Step{}
	for _, s := range f.Steps {
		for _, b := range s.Branches() {
			if b == nil {
				continue
			}
			if _, step := index[b.Name]; step || out[b.Name] != nil {
				continue
			}
			out[b.Name] = s
		}
	}
	c.branchOf = out
	if len(out) == 0 {
		return
	}
	for _, m := range f.GoMethods() {
		if blk := out[m.Name]; m.Rollback && blk != nil {
			c.add(diag.Errorf(m.Range, "rollback-name", "rollback %q has the same name as branch %q of parallel block %q", m.Name, m.Name, blk.Name).
				WithHint("a Go rollback is a handler method of its own; rename it, for example to %q", "Undo"+m.Name))
		}
	}
}

// parallelStep checks what a step of a flow's body may get wrong about
// parallel blocks: a block's own rules and its branches, or `writes` on a
// step that is not a branch.
func (c *checker) parallelStep(f *Flow, s *Step, index map[string]int, targets func() []string) {
	if !s.IsBlock() {
		if len(s.Writes) > 0 && s.Writes[0] != nil {
			c.add(diag.Errorf(pick(s.Writes[0].Range, s.NameRange), "writes", "step %q declares `writes`, but it is not a branch of a parallel block", s.Name).
				WithHint("`writes` says what a branch merges back into the run's state when its block completes; a step outside a block works on the run's state itself: remove the line"))
		}
		return
	}
	at := pick(s.NameRange, s.Range)
	if len(s.Parallel.Branches) == 0 {
		c.add(diag.Errorf(at, "parallel-empty", "parallel block %q has no branches", s.Name).
			WithHint("put the steps that run at the same time in the block: `parallel %s { step A { ... } step B { ... } }`", diag.Cut(s.Name)))
	}
	writers := map[string]*Ident{} // field -> the first branch's name of it
	writerOf := map[string]*Step{}
	for _, b := range s.Parallel.Branches {
		if b == nil {
			continue
		}
		if c.branch(f, s, b, index, targets) {
			continue
		}
		for _, w := range b.BranchWrites() {
			if w == nil {
				continue
			}
			prev, dup := writers[w.Name]
			switch {
			case dup && writerOf[w.Name] == b:
				// a Go step listing a field twice: branch reports it
			case dup:
				c.add(ParallelWriteError(s, writerOf[w.Name], prev, b, w, nil))
			default:
				writers[w.Name] = w
				writerOf[w.Name] = b
			}
		}
	}
}

// ParallelWriteError is the "parallel-write" error of branch b of block
// blk writing w, which writes what branch prev's pw, earlier in the block,
// writes too. They are one field, or (outer not nil: pw or w) outer names
// an embedded struct of the state and the other a field promoted from it,
// which dsl/gocheck finds with the Go types. Reported at w.
func ParallelWriteError(blk, prev *Step, pw *Ident, b *Step, w *Ident, outer *Ident) diag.Diagnostic {
	field, how := w.Name, ""
	if outer != nil {
		inner, outerBranch := pw, b
		if outer == pw {
			inner, outerBranch = w, prev
		}
		field, how = inner.Name, diag.Sprintf(": it is promoted from the embedded %q, which branch %q writes whole", outer.Name, outerBranch.Name)
	}
	return diag.Errorf(pick(w.Range, b.NameRange), "parallel-write", "branches %q and %q of parallel block %q both write field %q%s", prev.Name, b.Name, blk.Name, field, how).
		WithHint("the block merges each branch's fields into the run's state when it completes, so two writers of one field would race; let one branch write it (the other's is at %s), or use two fields", whereFrom(pw.Range, w.Range))
}

// branch checks branch b of block blk and reports whether it is so wrong
// (a choose, a block) that its writes mean nothing.
func (c *checker) branch(f *Flow, blk, b *Step, index map[string]int, targets func() []string) bool {
	at := pick(b.NameRange, b.Range)
	route := func(r diag.Range, what string) {
		c.add(diag.Errorf(pick(r, at), "branch-route", "branch %q of parallel block %q %s, but branches do not route", b.Name, blk.Name, what).
			WithHint("a branch ends ok or fails, and its block goes on once every branch completed: route the block's outcome with `on` lines of the block itself (after its steps), or make %q a step after the block", b.Name))
	}
	switch {
	case b.IsBlock():
		route(at, "is a parallel block")
		return true
	case b.Spec().Decides:
		route(actionRange(b.Action), "chooses where the run goes")
		return true
	}
	for _, t := range b.Transitions {
		if t != nil && t.Target != nil {
			route(t.Range, fmt.Sprintf("has `on %s -> %s`", diag.Cut(t.On.String()), diag.Cut(t.Target.Name)))
		}
	}
	if len(b.Outcomes) > 0 && b.Outcomes[0] != nil {
		route(b.Outcomes[0].Range, "declares outcomes")
	}
	if spec := b.Spec(); spec.Waits {
		c.add(diag.Errorf(pick(actionRange(b.Action), at), "branch-wait", "branch %q of parallel block %q waits (%s), but a branch cannot wait", b.Name, blk.Name, spec.Keyword).
			WithHint("branches run on goroutines of a running process, while a wait is a recorded state of the whole run; move the %s into a step before or after the block", spec.Keyword))
	}
	c.writes(blk, b)
	c.discarded(blk, b)
	// The checks of any step, on a copy without what was reported above.
	bc := *b
	bc.Transitions, bc.Outcomes = nil, nil
	c.step(f, -1, &bc, index, targets)
	return false
}

// writes checks the `writes` line of branch b: only a Go step has one (an
// rpc writes its `-> Field`), and it names each field once.
func (c *checker) writes(blk, b *Step) {
	if len(b.Writes) == 0 || b.Writes[0] == nil {
		return
	}
	if !b.IsGo() {
		what := "writes nothing to merge"
		if ws := b.BranchWrites(); len(ws) > 0 {
			what = "writes its `-> " + ws[0].Name + "`"
		}
		c.add(diag.Errorf(pick(b.Writes[0].Range, b.NameRange), "writes", "%s step %q declares `writes`, but only a Go step does: %s %s", b.Kind(), b.Name, b.Spec().Noun, what).
			WithHint("remove the `writes` line"))
		return
	}
	seen := map[string]*Ident{}
	for _, w := range b.Writes {
		if w == nil {
			continue
		}
		if strings.TrimSpace(w.Name) == "" {
			c.add(diag.Errorf(pick(w.Range, b.NameRange), "empty", "empty field name in the writes of step %q", b.Name).WithHint("name a field of the state"))
			continue
		}
		if prev, dup := seen[w.Name]; dup {
			c.duplicate("writes", prev.Range, pick(w.Range, b.NameRange), "list each field once", "step %q lists field %q twice in `writes` (first at %s)", b.Name, w.Name)
			continue
		}
		seen[w.Name] = w
	}
}

// discarded warns (branch-writes) about Go step b, a branch of block blk,
// that says nothing about what it changes: no `writes`, no `rollback`, no
// `irreversible`. The block merges only the fields a branch declares, so
// whatever b sets in the state is discarded. A Go step that sets no field
// and acts only outside the run is a legitimate branch, and the language
// has no way to say "writes nothing"; but such a step has an effect to
// undo, which its rollback or `irreversible` acknowledges (no-rollback asks
// for one). So only a branch with neither, which is most likely a
// computation whose result is lost, is warned about, and each way to
// silence it says something true of the step.
func (c *checker) discarded(blk, b *Step) {
	if !b.IsGo() || len(b.Writes) > 0 || b.Rollback != nil || b.Irreversible {
		return
	}
	c.add(diag.Warnf(pick(b.NameRange, b.Range), "branch-writes", "branch %q of parallel block %q is a Go step that declares no `writes`: its changes to the state are all discarded when the block merges its branches", b.Name, blk.Name).
		WithHint("declare the fields it sets, `writes A, B`; if it sets none and acts only outside the run, say how to undo that (`rollback <Method>`) or mark it `irreversible`"))
}

// intoBranch reports (and says true) when target t of step s names a
// branch of a parallel block: only the block starts its branches.
func (c *checker) intoBranch(s *Step, t *Ident, r diag.Range) bool {
	blk := c.branchOf[t.Name]
	if blk == nil {
		return false
	}
	c.undefinedTargets = true // as with an undefined target: reachability would only repeat it
	if blk == s {
		// The block's own on line: routing to the block would be a loop,
		// so say where its outcome can go instead.
		c.add(diag.Errorf(r, "branch-target", "parallel block %q routes to %q, one of its own branches", s.Name, t.Name).
			WithHint("the block starts its branches when it is entered; its `on` lines route its outcome to a step after it, done or fail"))
		return true
	}
	c.add(diag.Errorf(r, "branch-target", "step %q routes to %q, a branch of parallel block %q", s.Name, t.Name, blk.Name).
		WithHint("a branch runs only when its block starts it: route to the block, `-> %s`", diag.Cut(blk.Name)))
	return true
}

// blockOutcome is the diagnostic of a block's `on` line for an outcome
// the block cannot end with.
func (c *checker) blockOutcome(s *Step, name string, r diag.Range, outcomes []string) diag.Diagnostic {
	if name == OutcomeTimeout {
		return diag.Errorf(r, "undefined-outcome", "parallel block %q cannot end with outcome %q: none of its branches has a timeout or deadline", s.Name, name).
			WithHint("give a branch a `timeout` or `deadline` (or the flow one), or remove this transition")
	}
	return diag.Errorf(r, "undefined-outcome", "parallel block %q cannot end with outcome %q: its outcomes are %s", s.Name, name, strings.Join(outcomes, ", ")).
		WithHint("a block ends ok when every branch completed, or with the outcome of the branch that failed")
}
