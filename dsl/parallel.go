package dsl

import (
	"iter"

	"github.com/flowgen/flowgen/internal/ident"
)

// Parallel blocks, in the model. A block is one step of its flow (it is in
// Flow.Steps, routed to by its name, and routes its own outcome with its
// Transitions) whose Parallel holds its branches: steps that run at the
// same time, each on its own copy of the state, merged back by the fields
// it writes (BranchWrites) when it completes. The semantics are the
// runtime's (runtime.NewParallel; docs/runtime.md, Parallel blocks) and
// docs/language.md says them for authors:
//
//   - A block has no action, policies, rollback, publications or outcomes
//     of its own: its branches have them. DecodeJSON refuses them, and the
//     grammar has no place for them.
//   - Its outcomes are ok (every branch completed), error, and timeout
//     when a branch can time out (Outcomes); a branch's failure is the
//     block's.
//   - Branches do not route (no `on` lines, no declared outcomes, no
//     choose), do not wait (no await, no sleep), are never a block
//     themselves (DecodeJSON refuses one; the grammar cannot write one),
//     and no step outside the block routes to one. Check reports each.
//   - Branches take the flow's retry, timeout and deadline like any step
//     that does work, and their names share the flow's step namespace.

// Parallel is what makes a step a parallel block: its branches, in the
// order they were written (the order the runtime registers them; it
// starts them all at once).
type Parallel struct {
	Branches []*Step `json:"branches"`
}

// parallelSpec is what a parallel block is to the code that asks a step's
// spec (Step.Spec, SpecOf of its Kind): no side effects, handler, wait,
// decision or needs of its own (its branches have them), and none of the
// flow's policies. Its Kind, "parallel", is what Step.Kind says of a
// block; it is not an action kind and deliberately no ActionKind
// constant: a block has no action, the kind table (Kinds) does not list
// it, DecodeJSON refuses it as an action's kind, and the switches over
// action kinds never see it (gen and the engine build a block before they
// switch on a step's kind).
var parallelSpec = &KindSpec{
	Kind:    ActionKind(ident.KeywordParallel),
	Keyword: ident.KeywordParallel,
	Noun:    "a parallel block",
	Label:   func(*Action, func(string) string) string { return ident.KeywordParallel },
}

// IsBlock reports whether s is a parallel block.
func (s *Step) IsBlock() bool { return s != nil && s.Parallel != nil }

// stepNoun is what a diagnostic calls step s: "parallel block" for a
// block, "step" for any other step.
func stepNoun(s *Step) string {
	if s.IsBlock() {
		return "parallel block"
	}
	return "step"
}

// Branches returns the branches of block s (nil for any other step).
func (s *Step) Branches() []*Step {
	if !s.IsBlock() {
		return nil
	}
	return s.Parallel.Branches
}

// AllSteps returns every step of f, blocks and their branches included, in
// file order: each block followed by its branches, which is the order the
// runtime registers them. Nil steps are left out.
func (f *Flow) AllSteps() []*Step {
	if f == nil {
		return nil
	}
	out := make([]*Step, 0, len(f.Steps))
	for _, s := range f.Steps {
		if s == nil {
			continue
		}
		out = append(out, s)
		for _, b := range s.Branches() {
			if b != nil {
				out = append(out, b)
			}
		}
	}
	return out
}

// BranchBlocks maps the name of each branch of f to its block (a name
// that branches of two blocks share, which Check reports, maps to the
// first); a step that is no branch is not in it. It is the one answer to
// "which block is this step a branch of": code that asks it of every step
// computes the map once per flow, as a search of the flow per step would
// be quadratic in the steps of the flow.
func (f *Flow) BranchBlocks() map[string]*Step {
	out := map[string]*Step{}
	for blk, b := range f.branches() {
		if _, dup := out[b.Name]; !dup {
			out[b.Name] = blk
		}
	}
	return out
}

// branches yields each branch of f with its block, in file order; nil
// branches are left out.
func (f *Flow) branches() iter.Seq2[*Step, *Step] {
	return func(yield func(*Step, *Step) bool) {
		if f == nil {
			return
		}
		for _, s := range f.Steps {
			for _, b := range s.Branches() {
				if b != nil && !yield(s, b) {
					return
				}
			}
		}
	}
}

// BranchWrites returns the state fields branch s writes, which its block
// merges into the run's state when s completes: a Go step's `writes`
// fields, or the fields its action writes (an rpc's `-> Field`: the kind's
// fields of role RoleResponse). Anything else a branch changes is
// discarded.
func (s *Step) BranchWrites() []*Ident {
	if s == nil {
		return nil
	}
	if s.IsGo() {
		return s.Writes
	}
	var out []*Ident
	if s.Action != nil {
		for _, f := range s.Spec().Fields {
			if id := s.Action.IdentField(f.Field); f.Role == RoleResponse && id != nil {
				out = append(out, id)
			}
		}
	}
	return out
}

// blockCanTimeout reports whether block s can end with the outcome
// timeout: one of its branches can.
func (f *Flow) blockCanTimeout(s *Step) bool {
	for _, b := range s.Branches() {
		if b != nil && f.CanTimeout(b) {
			return true
		}
	}
	return false
}
