package gen

import (
	"fmt"
	"go/token"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// branchesVar is the constructor's variable for the branches of the
// parallel block being built.
const branchesVar = "branches"

// block returns the statements that build parallel block s: each branch
// built in st as any step is (stepBody), given its merge (WithWrites' field,
// Writes) and added to branches, then runtime.NewParallel over them, the
// block's routes, and the append to steps.
func (g *flowGen) block(s *dsl.Step) []jen.Code {
	bs := s.Branches()
	out := []jen.Code{jen.Line(), docComment(fmt.Sprintf("%s: a parallel block; its %d branches run at the same time, each on a copy of the state, and merge what they write when they complete.", s.Name, len(bs))),
		g.id(branchesVar).Op("=").Make(jen.Index().Op("*").Add(g.rtS("Step")), jen.Lit(0), jen.Lit(len(bs)))}
	for _, b := range bs {
		out = append(out, g.stepBody(b)...)
		if m := g.merge(b); m != nil {
			out = append(out, g.id(stepVar).Dot("Writes").Op("=").Add(m))
		}
		out = append(out, g.id(branchesVar).Op("=").Append(g.id(branchesVar), g.id(stepVar)))
	}
	out = append(out, jen.Line(), docComment(s.Name+" itself: it ends ok once every branch completed, or with the outcome of the branch that failed."),
		g.id(stepVar).Op("=").Add(g.rtS("NewParallel").Call(jen.Id(g.consts[s.Name]), g.id(branchesVar))))
	out = append(out, g.nextAssign(s)...)
	return append(out, g.id(stepsVar).Op("=").Append(g.id(stepsVar), g.id(stepVar)))
}

// merge is branch b's runtime.Step.Writes: plain copies of the fields it
// writes (dsl.Step.BranchWrites) from its copy of the state into the
// run's; nil when it writes none (the runtime then discards its changes).
func (g *flowGen) merge(b *dsl.Step) jen.Code {
	ws := b.BranchWrites()
	if len(ws) == 0 {
		return nil
	}
	dst, src := g.id("dst"), g.id("src")
	var body []jen.Code
	for _, w := range ws {
		body = append(body, dst.Clone().Dot(w.Name).Op("=").Add(src.Clone()).Dot(w.Name))
	}
	return jen.Func().Params(jen.List(dst.Clone(), src.Clone()).Add(g.statePtr())).Block(body...)
}

// checkBlock rejects a block that Check reports but a hand-made model
// could still contain, and checks its branches as newFlowGen checks a
// flow's steps; seen holds the step names so far.
func (g *flowGen) checkBlock(s *dsl.Step, seen map[string]bool) error {
	fl := g.fl
	if len(s.Branches()) == 0 {
		return fmt.Errorf("gen: flow %q: parallel block %q has no branches", fl.Name, s.Name)
	}
	for _, b := range s.Branches() {
		switch {
		case b == nil:
			return fmt.Errorf("gen: flow %q: parallel block %q has a nil branch", fl.Name, s.Name)
		case !token.IsIdentifier(b.Name) || !token.IsExported(b.Name) || seen[b.Name]:
			return fmt.Errorf("gen: flow %q: step name %q is not a unique exported Go identifier", fl.Name, b.Name)
		case b.IsBlock() || len(b.Transitions) > 0 || b.Spec().Decides || b.Spec().Waits:
			return fmt.Errorf("gen: flow %q: branch %q of parallel block %q routes or waits, which a branch cannot", fl.Name, b.Name, s.Name)
		}
		seen[b.Name] = true
		for _, w := range b.BranchWrites() {
			if w == nil {
				return fmt.Errorf("gen: flow %q: branch %q writes a nil field", fl.Name, b.Name)
			}
			if d, bad := dsl.FieldNameProblem(w, "state field"); bad {
				return d // at the name, which its message names
			}
		}
		if err := checkAction(fl, b); err != nil {
			return err
		}
		if err := g.checkPorts(b); err != nil {
			return err
		}
	}
	return nil
}

// branchDoc tells the implementer of Go step s, when it is a branch of a
// parallel block, what becomes of its changes to the state; nil for any
// other step.
func (g *flowGen) branchDoc(s *dsl.Step) []string {
	blk := g.blocks[s.Name]
	if blk == nil {
		return nil
	}
	var fields []string
	for _, w := range s.BranchWrites() {
		fields = append(fields, w.Name)
	}
	kept := "none of them is kept: it declares no writes"
	switch len(fields) {
	case 0:
	case 1:
		kept = "only " + fields[0] + " (its writes) is merged into the run's state when it completes; its other changes are discarded"
	default:
		kept = "only " + diag.AndList(fields) + " (its writes) are merged into the run's state when it completes; its other changes are discarded"
	}
	return prose(fmt.Sprintf("It is a branch of parallel block %s: it runs at the same time as the other branches, "+
		"on its own copy of the state as the block started, and %s.", blk.Name, kept))
}
