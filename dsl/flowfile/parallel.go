package flowfile

import (
	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/parser"
)

// parallel builds a parallel block: a step with no action whose branches
// are its steps, in order, and whose transitions are its own on lines
// (Check reports what a block or its branches may not say).
func (b *builder) parallel(fs *parser.FlowStmt) *dsl.Step {
	p := fs.Parallel
	out := &dsl.Step{
		Name:      p.Name.Value,
		Doc:       docComment(fs.Comments),
		Parallel:  &dsl.Parallel{Branches: []*dsl.Step{}},
		NameRange: tokenRange(p.Name),
		Range:     rng(fs.Pos, fs.EndPos),
	}
	for _, st := range p.Body {
		switch {
		case st.Step != nil:
			out.Parallel.Branches = append(out.Parallel.Branches, b.step(branchStmt{st}))
		case st.On != nil:
			out.Transitions = append(out.Transitions, transition(st.On, rng(st.Pos, st.EndPos)))
		}
	}
	return out
}

// stepStmt is a statement that declares a step: a flow's (flowStmt) or a
// parallel block's (branchStmt).
type stepStmt interface {
	step() *parser.Step
	comments() parser.Comments
	rng() diag.Range
}

type flowStmt struct{ *parser.FlowStmt }

func (s flowStmt) step() *parser.Step        { return s.Step }
func (s flowStmt) comments() parser.Comments { return s.Comments }
func (s flowStmt) rng() diag.Range           { return rng(s.Pos, s.EndPos) }

type branchStmt struct{ *parser.ParallelStmt }

func (s branchStmt) step() *parser.Step        { return s.Step }
func (s branchStmt) comments() parser.Comments { return s.Comments }
func (s branchStmt) rng() diag.Range           { return rng(s.Pos, s.EndPos) }
