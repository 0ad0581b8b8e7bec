package gen

import (
	"encoding/json"
	"fmt"
	"go/types"
	"slices"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// choose is the runtime.NewChoice of a choose step: one function per
// `when` line, each its condition compiled to a Go expression over the
// state (no interpreter: the Go compiler checks the comparisons, and
// dsl/gocheck has reported a mismatch at its .flow position before). The
// targets are the step's routes (Next), keyed by runtime.ChoiceOutcome.
func (g *flowGen) choose(s *dsl.Step) *jen.Statement {
	result := jen.Params(jen.Bool(), jen.Error())
	fn := jen.Index().Func().Params(jen.Op("*").Add(g.stateType())).Add(result)
	return g.rtS("NewChoice").Call(jen.Id(g.consts[s.Name]), fn.ValuesFunc(func(vg *jen.Group) {
		for _, b := range s.Action.When {
			vg.Line().Comment("when " + b.When.String() + " -> " + b.Target.Name).Line().
				Add(g.stateFunc(result, jen.List(g.cond(b.When), jen.Nil())))
		}
		vg.Line()
	}))
}

// cond is the Go expression of a condition. Comparisons bind tighter than
// && and ||, and && tighter than ||, as in the condition's own syntax; an
// or inside an and, and anything but a field inside a not, are
// parenthesised.
func (g *flowGen) cond(c *dsl.Cond) *jen.Statement {
	return g.condIn(c, nil)
}

// nilChain is a chain of && (or ||) being written: a flattened and (or),
// its own nested ands (ors) included, and the pointers whose nil checks
// an operand of it has written, by their path ("Customer").
type nilChain struct {
	or      bool
	checked map[string]bool
}

// condIn is cond for c, an operand of chain (nil outside a chain). A
// comparison that reads members through pointers joins its nil checks to
// such a chain when they use the chain's operator, leaving out those an earlier
// operand wrote: once the chain has gone past s.Customer != nil in an
// &&, or past s.Customer == nil in an ||, the check holds again. Writing
// it twice would be the same expression twice in one chain, which go vet
// (and so go test) rejects ("redundant and").
func (g *flowGen) condIn(c *dsl.Cond, chain *nilChain) *jen.Statement {
	field := func() *jen.Statement { return g.id("s").Dot(c.Field.Name) }
	// Only a comparison or a bool field that reads members has selections
	// (resolveMembers).
	if sels := g.members[c]; len(sels) > 0 {
		return g.memberCond(c, sels, chain)
	}
	switch c.Op {
	case dsl.CondField:
		return field()
	case dsl.CondNot:
		inner := g.cond(c.Args[0])
		if c.Args[0].Op == dsl.CondField {
			return jen.Op("!").Add(inner)
		}
		return jen.Op("!").Parens(inner)
	case dsl.CondAnd, dsl.CondOr:
		op := "&&"
		if c.Op == dsl.CondOr {
			op = "||"
		}
		if chain == nil || chain.or != (c.Op == dsl.CondOr) {
			chain = &nilChain{or: c.Op == dsl.CondOr, checked: map[string]bool{}} // a chain of its own
		}
		operands := make([]*jen.Statement, len(c.Args))
		for i, a := range c.Args {
			if c.Op == dsl.CondAnd && a.Op == dsl.CondOr {
				operands[i] = jen.Parens(g.cond(a))
			} else {
				operands[i] = g.condIn(a, chain) // the same operator, or an operand that is not a chain
			}
		}
		return joinChain(op, operands)
	}
	return field().Op(string(c.Op)).Add(literal(c.Value))
}

// maxChain is how many operands a chain of && (or ||) is written with at
// most: a longer one is written in groups of maxChain, each in
// parentheses, and those groups grouped again while they are more than
// maxChain. gofmt (go/printer), which formats the generated file, walks
// the whole chain left of each operator it prints: a chain of n operands
// costs it n² (a condition of 32,000 terms took 98 s of CPU to generate),
// one in groups about n·maxChain. The grouping changes nothing the
// condition does: && and || are associative and the operands still run
// left to right, each only if those before did not decide.
const maxChain = 32

// joinChain is operands joined by op, grouped as maxChain says.
func joinChain(op string, operands []*jen.Statement) *jen.Statement {
	for len(operands) > maxChain {
		groups := make([]*jen.Statement, 0, (len(operands)+maxChain-1)/maxChain)
		for lo := 0; lo < len(operands); lo += maxChain {
			group := operands[lo:min(lo+maxChain, len(operands))]
			if len(group) == 1 {
				groups = append(groups, group[0])
				continue
			}
			groups = append(groups, jen.Parens(joinChain(op, group)))
		}
		operands = groups
	}
	out := &jen.Statement{}
	for i, e := range operands {
		if i > 0 {
			out.Op(op)
		}
		out.Add(e)
	}
	return out
}

// memberCond is the Go expression of a comparison or bool field that
// reads members (Customer.Tier == "gold"): the Go selector, after a nil
// check of each pointer on the way. A member behind a nil pointer reads
// as its zero value, as a missing or null member does in the JSON
// evaluation (dsl.Cond.Eval), so the condition then has the value Eval
// gives on an empty state: (s.Customer != nil && s.Customer.Tier ==
// "gold"), or (s.Customer == nil || s.Customer.Tier != "gold"),
// parenthesised as one operand; without a pointer, the selector alone.
// In a chain of the nil checks' operator (see condIn), the checks
// join the chain unparenthesised, without those it already has.
func (g *flowGen) memberCond(c *dsl.Cond, sels []dsl.Selector, chain *nilChain) *jen.Statement {
	onZero, _ := c.Eval(func(string) json.RawMessage { return nil }) // Eval cannot fail on a checked comparison read as zero
	nilOp, join := "!=", "&&"
	if onZero {
		nilOp, join = "==", "||"
	}
	inChain := chain != nil && chain.or == onZero
	out := &jen.Statement{}
	prefix := []jen.Code{g.id("s"), jen.Dot(c.Field.Name)}
	key := c.Field.Name
	read := jen.Add(g.id("s")).Dot(c.Field.Name)
	for _, sel := range sels {
		if sel.Pointer && !(inChain && chain.checked[key]) {
			out.Add(prefix...).Op(nilOp).Nil().Op(join)
			if inChain {
				chain.checked[key] = true
			}
		}
		prefix = append(prefix, jen.Dot(sel.Name))
		key += "." + sel.Name
		if !sel.Embedded { // Go promotes it: the selector reads as written
			read.Dot(sel.Name)
		}
	}
	if c.Op != dsl.CondField {
		read.Op(string(c.Op)).Add(literal(c.Value))
	}
	if len(*out) == 0 { // no pointer on the way, or its checks are the chain's
		return read
	}
	if inChain {
		return out.Add(read)
	}
	return jen.Parens(out.Add(read))
}

// resolveMembers finds the Go selections of every condition of fl that
// reads members of a state field (dsl.CondSelectors) in pkg, the package
// of the state type. It fails, rather than write code that does not
// compile or that panics on a nil pointer, when pkg is nil (the package
// was not loaded: the generator cannot tell a pointer on the way) or a
// member does not resolve, which the Go package checks report with a
// position.
func resolveMembers(fl *dsl.Flow, state string, pkg *types.Package) (map[*dsl.Cond][]dsl.Selector, error) {
	out := map[*dsl.Cond][]dsl.Selector{}
	var err error
	for _, s := range fl.AllSteps() {
		if s == nil || s.Action == nil || s.Action.Kind != dsl.ActionChoose {
			continue
		}
		for _, b := range s.Action.When {
			if b == nil {
				continue
			}
			b.When.Fields(func(c *dsl.Cond) {
				if err != nil || len(c.Members) == 0 {
					return
				}
				if slices.Contains(c.Members, nil) {
					err = fmt.Errorf("gen: flow %q: step %q: condition on %q has a nil member", fl.Name, s.Name, c.Path())
					return
				}
				if pkg == nil {
					err = needsGoType(c.Range, state, "condition on %q reads a member of state field %q", c.Path(), c.Field.Name)
					return
				}
				ft, ferr := stateFieldType(fl, state, pkg, c.Field)
				if ferr != nil {
					err = ferr
					return
				}
				sels, _, problem := dsl.CondSelectors(pkg, ft, c)
				if problem != nil {
					err = fmt.Errorf("gen: flow %q: step %q: condition on %q: member %q does not resolve in type %s (flowgen check says why)", fl.Name, s.Name, c.Path(), c.Members[problem.Member].Name, dsl.TypeString(problem.In, pkg))
					return
				}
				out[c] = sels
			})
		}
	}
	return out, err
}

// literal is the Go constant of a condition's literal: untyped, so that
// it takes the field's type (a named string type, an int or a float64).
func literal(l *dsl.Literal) jen.Code {
	switch l.Kind {
	case dsl.LitString:
		return jen.Lit(l.Text)
	case dsl.LitBool:
		return jen.Lit(l.Text == "true")
	case dsl.LitDuration:
		d, _ := time.ParseDuration(l.Text)
		return duration(d)
	}
	return jen.Op(l.Text) // checkChoose: a JSON number, which is Go syntax too
}

// checkChoose refuses, for a model that was not checked, what would not
// compile or would put other text than a condition into the code: a
// missing otherwise or target; what dsl.CondProblems finds, as Check
// reports it; and what only the Go text needs, a field or member no Go
// struct can have (dsl.FieldNameProblem, at the name) or a literal that is
// not Go syntax of its kind.
func checkChoose(fl *dsl.Flow, s *dsl.Step, a *dsl.Action) error {
	if a.Otherwise == nil {
		return fmt.Errorf("gen: flow %q: step %q: choose without otherwise", fl.Name, s.Name)
	}
	for _, b := range a.When {
		if b == nil || b.Target == nil {
			return fmt.Errorf("gen: flow %q: step %q: choose branch without a target", fl.Name, s.Name)
		}
		// The message names the step.
		if ds := dsl.CondProblems(s.Name, b.When, diag.Range{}); len(ds) > 0 {
			return fmt.Errorf("gen: flow %q: %s", fl.Name, ds[0].Message)
		}
		var err error
		b.When.Fields(func(c *dsl.Cond) {
			if err == nil {
				err = nameErr(c)
			}
		})
		if err != nil {
			return err // a diagnostic at the name, which its message names
		}
		b.When.Fields(func(c *dsl.Cond) {
			switch {
			case err != nil:
			case c.Op == dsl.CondField || c.Value == nil: // a bool field alone: no literal
			case c.Value.Kind == dsl.LitNumber && !isNumber(c.Value.Text):
				err = fmt.Errorf("condition on %q: %q is not a number", c.Field.Name, c.Value.Text)
			case c.Value.Kind == dsl.LitDuration:
				if _, perr := time.ParseDuration(c.Value.Text); perr != nil {
					err = fmt.Errorf("condition on %q: %w", c.Field.Name, perr)
				}
			}
		})
		if err != nil {
			return fmt.Errorf("gen: flow %q: step %q: %w", fl.Name, s.Name, err)
		}
	}
	return nil
}

// isNumber reports whether s is a JSON number: an optional minus, digits
// with no leading zero, an optional fraction and exponent.
func isNumber(s string) bool {
	if s == "" || s[0] != '-' && (s[0] < '0' || s[0] > '9') {
		return false
	}
	var v json.Number
	return json.Unmarshal([]byte(s), &v) == nil && string(v) == s
}

// edgeOutcome is the Go expression of the outcome of edge e: a choose's
// outcomes are the runtime's (runtime.ChoiceOutcome, OutcomeOtherwise).
func (g *flowGen) edgeOutcome(s *dsl.Step, e dsl.Edge) jen.Code {
	switch {
	case e.Choice == nil:
		return g.outcome(s, e.Outcome)
	case e.Choice.Branch == nil:
		return rt("OutcomeOtherwise")
	}
	for i, b := range s.Action.When {
		if b == e.Choice.Branch {
			return rt("ChoiceOutcome").Call(jen.Lit(i))
		}
	}
	return jen.Lit(e.Outcome)
}

// nameErr is the dsl.FieldNameProblem of c's field or of one of its
// members (a diagnostic, at the name), or nil.
func nameErr(c *dsl.Cond) error {
	if d, bad := dsl.FieldNameProblem(c.Field, "state field"); bad {
		return d
	}
	for _, m := range c.Members {
		if d, bad := dsl.FieldNameProblem(m, "member"); bad {
			return d
		}
	}
	return nil
}
