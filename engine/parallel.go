package engine

import (
	"fmt"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/runtime"
)

// block compiles parallel block s of fl: each branch as any step (step),
// with a merge of the fields it writes (dsl.Step.BranchWrites), under
// runtime.NewParallel, routed as fl's edges say. It is what the generator
// emits for a block (gen/parallel.go), on the JSON state.
func (e *Engine) block(fl *dsl.Flow, lk lookups, s *dsl.Step) (*runtime.Step[State], error) {
	branches := make([]*runtime.Step[State], 0, len(s.Branches()))
	for _, b := range s.Branches() {
		if b == nil || b.IsBlock() {
			return nil, fmt.Errorf("flow %q: parallel block %q has a branch that is missing or a block", fl.Name, s.Name)
		}
		st, err := e.step(fl, lk, b)
		if err != nil {
			return nil, err
		}
		st.Writes = merge(b.BranchWrites())
		branches = append(branches, st)
	}
	st := runtime.NewParallel(s.Name, branches)
	st.Next = map[runtime.Outcome]string{}
	next(lk.edges[s], st)
	return st, nil
}

// merge copies the fields a branch writes from its copy of the JSON state
// into the run's, as a Go struct field is copied: a field the branch's
// copy does not have is removed. nil for a branch that writes nothing.
func merge(fields []*dsl.Ident) func(dst, src *State) {
	if len(fields) == 0 {
		return nil
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return func(dst, src *State) {
		for _, f := range names {
			if raw := src.Raw(f); raw != nil {
				dst.setRaw(f, raw)
			} else {
				dst.Delete(f)
			}
		}
	}
}
