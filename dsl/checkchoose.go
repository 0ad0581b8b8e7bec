package dsl

import (
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/snippet"
)

// choose checks a choose step: it has `when` lines and ends with
// `otherwise`, each target is a step of the flow, done or fail, each
// condition is well formed, and the step says nothing but its choice (a
// decision has no policies, rollback, publications or transitions of its
// own). Whether the fields exist and have the types the literals need is
// checked against the Go package (dsl/gocheck).
func (c *checker) choose(f *Flow, s *Step, at diag.Range, index map[string]int, targets func() []string) {
	a := s.Action
	ar := pick(a.Range, at)
	if len(a.When) == 0 {
		c.add(diag.Errorf(ar, "choose", "choose in step %q has no `when` line: it always goes to its otherwise", s.Name).
			WithHint("add `when <condition> -> Step` lines, or replace the step by `on ok -> Step` in the step before it"))
	}
	if a.Otherwise == nil {
		c.add(diag.Errorf(ar, "choose-otherwise", "choose in step %q has no `otherwise`: a run whose state matches no condition would have nowhere to go", s.Name).
			WithHint("end the choose with `otherwise -> Step` (or `otherwise -> fail`)"))
	}
	for _, e := range a.ChoiceEdges() {
		c.chooseTarget(f, s, e.Target, pick(e.Target.Range, ar), index, targets)
	}
	c.chooseFallThrough(f, s, index)
	seen := map[string]int{} // a condition as written, canonical: its first when line
	for i, b := range a.When {
		if b == nil {
			continue
		}
		problems := CondProblems(s.Name, b.When, pick(b.Range, ar))
		c.ds = append(c.ds, problems...)
		if len(problems) > 0 {
			continue // a condition not well formed has no text to compare
		}
		// The lines are tried in order, so a condition that repeats an
		// earlier one never decides: the earlier line takes every run
		// that matches it, wherever this one leads.
		text := b.When.String()
		if first, ok := seen[text]; ok {
			c.add(diag.Warnf(pick(b.Range, ar), "choose-repeat", "`when %s` in step %q repeats `when` number %d of its choose, which takes every run that matches it: this line never decides", diag.Cut(text), s.Name, first+1).
				WithHint("remove this line, or change its condition"))
			continue
		}
		seen[text] = i
	}
	onlyHint := func(r diag.Range, what, hint string) {
		c.add(diag.Errorf(pick(r, at), "choose-only", "step %q chooses, so it cannot have %s", s.Name, what).WithHint("%s", hint))
	}
	only := func(r diag.Range, what string) {
		onlyHint(r, what, "a choose only decides where the run goes: it does no work to retry, bound, undo or publish, and its `when` and `otherwise` lines are its transitions; move this into a step of its own")
	}
	if s.Retry != nil {
		only(s.Retry.Range, "a retry")
	}
	if s.Timeout > 0 {
		only(s.TimeoutRange, "a timeout")
	}
	if s.Deadline > 0 {
		only(s.DeadlineRange, "a deadline")
	}
	if s.Rollback != nil {
		only(s.Rollback.Range, "a rollback")
	}
	if s.Irreversible {
		// Nothing to move elsewhere: a choose has no side effect to mark.
		onlyHint(s.IrreversibleRange, "`irreversible`", "remove it: a choose changes nothing, so it needs neither a rollback nor `irreversible`")
	}
	for _, p := range s.Publish {
		if p != nil {
			only(p.Range, "publications")
		}
	}
	if len(s.Outcomes) > 0 && s.Outcomes[0] != nil {
		only(s.Outcomes[0].Range, "outcomes")
	}
	for _, t := range s.Transitions {
		if t != nil {
			// Where the run goes is the choose's own lines' to say.
			onlyHint(t.Range, "`on` transitions", "route with the choose's own lines (`when <condition> -> Target`, `otherwise -> Target`), and remove this one")
		}
	}
}

// chooseTarget reports a choose target that is not a step of f, done or
// fail.
func (c *checker) chooseTarget(f *Flow, s *Step, t *Ident, r diag.Range, index map[string]int, targets func() []string) {
	if _, ok := index[t.Name]; ok || t.Name == TargetDone || t.Name == TargetFail || c.intoBranch(s, t, r) {
		return
	}
	c.undefinedTargets = true
	d := diag.Errorf(r, "undefined-target", "choose in step %q goes to undefined step %q", s.Name, t.Name)
	if m := c.suggest(t.Name, targets, true); m != "" {
		d = d.WithHint("did you mean %q?", m)
	} else {
		d = d.WithHint("a target is a step of flow %q, done or fail", f.Name)
	}
	c.add(d)
}

// CondProblems returns what is wrong with condition cd of the choose in step
// step, as Check reports it (codes condition and empty), every node's at
// its own range or else at: the condition's shape (which only a model built
// in Go can get wrong: the JSON decoder refuses a malformed one first, as a
// json error, and the grammar cannot write one), names that are not empty,
// and no ordering of booleans. It is the one home of these rules: Check
// reports the list, and gen.Generate refuses a model, checked or not, with
// its first. Whether the fields exist and have the types the literals need
// is checked against the Go package (dsl/gocheck).
func CondProblems(step string, cd *Cond, at diag.Range) diag.List {
	var ds diag.List
	condProblems(&ds, step, cd, at)
	if len(ds) == 0 {
		condChains(&ds, step, cd, "", at)
	}
	return ds
}

// condChains reports, in each chain of ands (or of ors) of well-formed
// condition cd, its own nested ands (ors) included, a condition written
// twice, and two comparisons of one field with == (in an and: it never
// holds) or with != (in an or: it always holds) and different values. The
// generated Go writes a chain as one && (||) expression, which go vet, and
// so go test, rejects with either ("redundant and", "suspect or"); and
// either is a mistake (the other operator, or another field, was meant).
// outer is the operator of the chain cd is an operand of ("" for none).
func condChains(ds *diag.List, step string, cd *Cond, outer CondOp, at diag.Range) {
	if cd.Op != CondAnd && cd.Op != CondOr {
		for _, a := range cd.Args {
			condChains(ds, step, a, "", at)
		}
		return
	}
	for _, a := range cd.Args {
		condChains(ds, step, a, cd.Op, at)
	}
	if cd.Op == outer {
		return // the root of the chain reports it
	}
	var operands []*Cond
	var flatten func(c *Cond)
	flatten = func(c *Cond) {
		if c.Op != cd.Op {
			operands = append(operands, c)
			return
		}
		for _, a := range c.Args {
			flatten(a)
		}
	}
	flatten(cd)
	eq, never := CondEq, "never holds"
	if cd.Op == CondOr {
		eq, never = CondNe, "always holds"
	}
	texts := map[string]bool{}
	compared := map[string]*Cond{} // a field's first comparison with eq
	for _, o := range operands {
		r := pick(o.Range, at)
		text := o.String()
		if texts[text] {
			*ds = append(*ds, diag.Errorf(r, "condition", "`%s` is written twice in one `%s` of the choose in step %q", text, cd.Op, step).
				WithHint("remove the repeated condition: it adds nothing (and go vet rejects the Go it compiles to)"))
			continue
		}
		texts[text] = true
		if o.Op != eq {
			continue
		}
		if first, ok := compared[o.Path()]; ok {
			*ds = append(*ds, diag.Errorf(r, "condition", "`%s %s %s` in step %q %s: %s has one value at a time", first, cd.Op, o, step, never, o.Path()).
				WithHint("did you mean `%s %s %s`?", first, map[CondOp]CondOp{CondAnd: CondOr, CondOr: CondAnd}[cd.Op], o))
			continue
		}
		compared[o.Path()] = o
	}
}

func condProblems(ds *diag.List, step string, cd *Cond, at diag.Range) {
	add := func(d diag.Diagnostic) { *ds = append(*ds, d) }
	if cd == nil {
		add(diag.Errorf(at, "condition", "a branch of the choose in step %q has no condition", step).
			WithHint("write `when <condition> -> Step`"))
		return
	}
	r := pick(cd.Range, at)
	switch {
	case cd.Op == CondAnd || cd.Op == CondOr:
		if len(cd.Args) < 2 {
			add(diag.Errorf(r, "condition", "%q in step %q needs two conditions or more", cd.Op, step).WithHint("join two conditions: `A and B`"))
		}
		for _, a := range cd.Args {
			condProblems(ds, step, a, r)
		}
	case cd.Op == CondNot:
		if len(cd.Args) != 1 {
			add(diag.Errorf(r, "condition", "not in step %q takes one condition", step).WithHint("write `not <condition>`"))
		}
		for _, a := range cd.Args {
			condProblems(ds, step, a, r)
		}
	case cd.Op == CondField || cd.Op.IsCompare():
		if cd.Field == nil || strings.TrimSpace(cd.Field.Name) == "" {
			add(diag.Errorf(r, "empty", "empty field name in a condition of step %q", step).WithHint("name a field of the state"))
			return
		}
		for _, m := range cd.Members {
			if m == nil || strings.TrimSpace(m.Name) == "" {
				add(diag.Errorf(pick(cd.PathRange(), r), "empty", "empty member name in %q, a condition of step %q", cd.Path(), step).
					WithHint("name the members from the state field down, separated by single dots: Customer.Tier"))
				return
			}
		}
		if cd.Op == CondField {
			return
		}
		if cd.Value == nil {
			add(diag.Errorf(r, "condition", "comparison of %q in step %q has no value", cd.Path(), step).WithHint("compare the field with a string, number, boolean or duration"))
			return
		}
		if cd.Value.Kind == LitNumber && !ValidNumber(cd.Value.Text) {
			add(diag.Errorf(pick(cd.Value.Range, r), "condition", "%s %s %s in step %q compares with a number beyond the range of float64", cd.Path(), cd.Op, snippet.Cut(cd.Value.Text, 32), step).
				WithHint("compare with a number of ordinary size: a float64 holds up to about 1.8e308"))
		}
		if cd.Value.Kind == LitBool && cd.Op.Ordered() {
			add(diag.Errorf(pick(cd.Value.Range, r), "condition", "%s %s %s in step %q orders booleans, which have no order", diag.Cut(cd.Path()), cd.Op, cd.Value, step).
				WithHint("compare a boolean with == or !=, or write the field alone: `when %s -> ...`", diag.Cut(cd.Path())))
		}
	default:
		add(diag.Errorf(r, "condition", "unknown condition operator %q in step %q", cd.Op, step).
			WithHint("conditions compare a field with ==, !=, <, <=, > or >=, and combine with and, or, not"))
	}
}
