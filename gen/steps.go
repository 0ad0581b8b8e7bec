package gen

import (
	"go/types"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/dsl"
)

// The constructor builds each step in a few statements on a variable st:
// the predefined step or runtime.NewStep, then one assignment per
// runtime.Step field the step sets, then an append to steps. Statements
// rather than one expression of options per step keep the code close to
// the runtime.Step fields it sets, and keep go/format fast: its cost grows
// with the size of expressions that span lines times their nesting, and a
// 1,000-step flow formatted as nested option calls took several times
// longer.

// stepVar and stepsVar are the constructor's variables for the step being
// built and the steps built so far.
const (
	stepVar  = "st"
	stepsVar = "steps"
	// flowRetryVar holds the flow's retry policy when steps share it.
	flowRetryVar = "retry"
)

// args renders call arguments with the first n on the line of the call and
// each further one on a line of its own.
func args(n int, list ...jen.Code) []jen.Code {
	out := make([]jen.Code, len(list))
	for i, a := range list {
		if i < n {
			out[i] = a
		} else {
			out[i] = jen.Line().Add(a)
		}
	}
	return out
}

// step returns the statements that build step s and add it to steps.
func (g *flowGen) step(s *dsl.Step) []jen.Code {
	if s.IsBlock() {
		return g.block(s)
	}
	return append(g.stepBody(s), g.id(stepsVar).Op("=").Append(g.id(stepsVar), g.id(stepVar)))
}

// stepBody returns the statements that build step s in st.
func (g *flowGen) stepBody(s *dsl.Step) []jen.Code {
	st := func() *jen.Statement { return g.id(stepVar) }
	set := func(field string, v jen.Code) jen.Code { return st().Dot(field).Op("=").Add(v) }

	// The step's name heads its statements; for a Go step, say where its
	// code is (the calls of the other kinds say what they do).
	head := s.Name
	if s.IsGo() {
		head += ": a Go step, method " + s.Name + " of the handlers"
	}
	out := []jen.Code{jen.Line(), docComment(head)}
	call, named := g.newStep(s)
	out = append(out, call)
	if a := s.Action; a != nil && a.Kind == dsl.ActionSleep && a.Until != nil {
		// The step's error names the field (runtime.Step.SleepError).
		out = append(out, st().Dot("Sleep").Dot("Field").Op("=").Lit(a.Until.Name))
	}
	if a := s.Action; a != nil && a.Kind == dsl.ActionAwait && a.Correlate != nil {
		// The step's error names the field when its value is empty
		// (runtime.Step.CorrelationError).
		out = append(out, st().Dot("Await").Dot("CorrelateField").Op("=").Lit(a.Correlate.Name))
	}
	if !named { // the predefined steps of await and publish default to their event
		out = append(out, set("ID", jen.Id(g.consts[s.Name])))
	}
	r := g.fl.RetryFor(s)
	switch {
	case r.Attempts <= 1:
	case g.flowRetry != nil && r == *g.flowRetry:
		out = append(out, set("Retry", g.id(flowRetryVar)))
	default:
		out = append(out, set("Retry", retryPolicy(r.Policy())))
	}
	// An await's timeout is the wait's own (NewAwait's argument), which
	// ends the step with the timeout outcome instead of abandoning it:
	// AttemptTimeoutFor is 0 for it.
	if t := g.fl.AttemptTimeoutFor(s); t > 0 {
		out = append(out, set("Timeout", duration(t)))
	}
	if d := g.fl.DeadlineFor(s); d > 0 {
		out = append(out, set("Deadline", duration(d)))
	}
	if rb := s.Rollback; rb != nil {
		if s.Rollback.IsGo() {
			out = append(out, set("Rollback", g.rollbackFunc(s)))
		} else if s.Rollback.Action != nil && s.Rollback.Action.Kind == dsl.ActionCall {
			out = append(out, g.rollbackCall(s).Call(st()))
		} else {
			out = append(out, set("Rollback", g.portRollback(s.Rollback.Action)))
		}
		if rr := g.fl.RollbackRetryFor(s); rr.Attempts > 1 {
			if rr == r {
				out = append(out, set("RollbackRetry", st().Dot("Retry")))
			} else {
				out = append(out, set("RollbackRetry", retryPolicy(rr.Policy())))
			}
		}
		if t := g.fl.RollbackTimeoutFor(s); t > 0 {
			out = append(out, set("RollbackTimeout", duration(t)))
		}
	}
	if s.Irreversible {
		out = append(out, set("Irreversible", jen.True()))
	}
	if len(s.Publish) > 0 {
		out = append(out, set("Publish", jen.Index().Add(g.rtS("Publication")).ValuesFunc(func(vg *jen.Group) {
			for _, p := range s.Publish {
				vg.Line().Values(
					jen.Id("Topic").Op(":").Lit(p.Topic),
					jen.Id("Event").Op(":").Lit(p.Event),
					jen.Id("Payload").Op(":").Add(g.readField(p.Payload)),
				)
			}
			vg.Line()
		})))
	}
	return append(out, g.nextAssign(s)...)
}

// nextAssign is the assignment of st.Next for the routes of s, if any.
func (g *flowGen) nextAssign(s *dsl.Step) []jen.Code {
	routes := g.routes(s)
	if len(routes) == 0 {
		return nil
	}
	return []jen.Code{g.id(stepVar).Dot("Next").Op("=").Add(jen.Map(rt("Outcome")).String().ValuesFunc(func(vg *jen.Group) {
		for _, e := range routes {
			vg.Line().Add(g.edgeOutcome(s, e)).Op(":").Add(g.target(e.To))
		}
		vg.Line()
	}))}
}

// routes are the edges of s (dsl.Flow.Edges) that runtime.Step.Next must
// hold: every declared outcome, and ok, error and timeout where they do
// not go where the runtime sends them by default (ok to the next step in
// registration order, which is file order, or done after the last; error
// and timeout to fail). Leaving the defaults out keeps the table to what
// the .flow file says; the goldens' programs check that both agree.
func (g *flowGen) routes(s *dsl.Step) []dsl.Edge {
	next := dsl.TargetDone
	if i := g.index[s]; i+1 < len(g.fl.Steps) {
		next = g.fl.Steps[i+1].Name
	}
	var out []dsl.Edge
	for _, e := range g.edges[s] {
		switch {
		case e.Outcome == dsl.OutcomeOK && e.To == next:
		case dsl.IsFailure(e.Outcome) && e.To == dsl.TargetFail:
		default:
			out = append(out, e)
		}
	}
	return out
}

// newStep assigns st the predefined step of an await, publish, sleep,
// choose or call, a runtime.NewStep over the handler method of a Go step,
// or one over the typed port an rpc calls; named says whether the call
// took the step's ID (every kind's does but an await's and a publish's,
// whose predefined steps are named after their event). Policies,
// rollback, publications and routes are the same for every kind
// (stepBody). The switch names every kind and has no default, so that
// internal/kinds's test reports it when a kind is added; checkAction
// refuses unknown kinds.
func (g *flowGen) newStep(s *dsl.Step) (assign jen.Code, named bool) {
	a := s.Action
	var call *jen.Statement
	switch s.Kind() {
	case dsl.ActionRPC:
		// The step calls its typed port (ports.go), not the runtime's
		// Caller: a request or response of the wrong type does not compile.
		stmts, err := g.portCall(a)
		call = g.rtS("NewStep").Call(jen.Id(g.consts[s.Name]), jen.Func().Params(g.ctxStateParams()...).Params(rt("Outcome"), jen.Error()).
			Block(append(stmts, jen.Return(rt("OutcomeOK"), err))...))
		named = true
	case dsl.ActionAwait:
		correlate := jen.Code(jen.Nil())
		if a.Correlate != nil {
			correlate = g.stateFunc(jen.String(), g.correlationValue(a.Correlate))
		}
		list := []jen.Code{jen.Lit(a.Topic), jen.Lit(a.Event), g.fieldPtr(a.Response), correlate, duration(g.fl.TimeoutFor(s))}
		if a.Correlate != nil && a.CorrelateOn != nil {
			// Only a path the flow names: the runtime's default is
			// dsl.DefaultCorrelationPath, and existing code stays as it was.
			list = append(list, g.rtS("WithCorrelationField").Call(jen.Lit(a.CorrelateOn.Name)))
		}
		call = g.rtS("NewAwait").Call(args(2, list...)...)
	case dsl.ActionPublish:
		call = g.rtS("NewPublish").Call(args(2, jen.Lit(a.Topic), jen.Lit(a.Event), g.readField(a.Request))...)
	case dsl.ActionSleep:
		// The wake-up time is the runtime's to fix and record when the
		// step is entered; nothing runs after it (nil) but publications.
		id := jen.Id(g.consts[s.Name])
		if a.Until != nil {
			// Check requires a time.Time field: its zero value (never
			// set) ends the step with the outcome error.
			call = g.rtS("NewSleepUntil").Call(id, g.stateFunc(jen.Qual(timePkg, "Time"), g.id("s").Dot(a.Until.Name)), jen.Nil())
		} else {
			call = g.rtS("NewSleep").Call(id, duration(time.Duration(a.Duration)), jen.Nil())
		}
		named = true
	case dsl.ActionChoose:
		call = g.choose(s)
		named = true
	case dsl.ActionCall:
		call = g.call(s)
		named = true
	case dsl.ActionGo:
		call = g.rtS("NewStep").Call(jen.Id(g.consts[s.Name]), g.goExec(s))
		named = true
	}
	return g.id(stepVar).Op("=").Add(call), named
}

// goExec adapts the handler method of a Go step to runtime.Step.Exec.
func (g *flowGen) goExec(s *dsl.Step) jen.Code {
	method := g.id("h").Dot(s.Name).Call(g.id("ctx"), g.id("s"))
	if g.stepNames(s).OutcomeType != "" {
		return jen.Func().Params(g.ctxStateParams()...).Params(rt("Outcome"), jen.Error()).Block(
			jen.List(g.id("out"), g.id("err")).Op(":=").Add(method),
			jen.Return(rt("Outcome").Call(g.id("out")), g.id("err")),
		)
	}
	return jen.Func().Params(g.ctxStateParams()...).Params(rt("Outcome"), jen.Error()).
		Add(inlineBlock(jen.Return(rt("OutcomeOK"), method)))
}

// rollbackFunc is the runtime rollback of s, a Go rollback: the handler's
// method.
func (g *flowGen) rollbackFunc(s *dsl.Step) jen.Code {
	return jen.Func().Params(g.ctxStateParams()...).Error().
		Add(inlineBlock(jen.Return(g.id("h").Dot(s.Rollback.Name.Name).Call(g.id("ctx"), g.id("s")))))
}

// portRollback is the runtime rollback of an rpc rollback line: a call of
// its typed port.
func (g *flowGen) portRollback(a *dsl.Action) jen.Code {
	stmts, err := g.portCall(a)
	if len(stmts) == 0 {
		return jen.Func().Params(g.ctxStateParams()...).Error().Add(inlineBlock(jen.Return(err)))
	}
	return jen.Func().Params(g.ctxStateParams()...).Error().Block(append(stmts, jen.Return(err))...)
}

// correlationValue reads an await's correlation field as the run's value:
// a string field as it is, any other (an integer, a bool: the checks allow
// no more) through runtime.CorrelationValue, the text of its JSON, as an
// event's member compares. A field whose type the generator does not know
// (-nopkg) goes through it too: string(n) of an integer would compile, a
// rune, and correlate with nothing; CorrelationValue does not compile for
// a type it cannot read.
func (g *flowGen) correlationValue(id *dsl.Ident) jen.Code {
	field := g.id("s").Dot(id.Name)
	if g.pkg != nil {
		if ft, err := stateFieldType(g.fl, g.state, g.pkg, id); err == nil {
			if b, ok := ft.Underlying().(*types.Basic); ok && b.Info()&types.IsString != 0 {
				return jen.String().Call(field)
			}
		}
	}
	return rt("CorrelationValue").Call(field)
}
