package gen

import (
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/dsl"
)

// call is a call with one argument per line: f(\n a,\n b,\n).
func call(args ...jen.Code) jen.Code {
	return jen.Custom(jen.Options{Open: "(", Close: ")", Separator: ",", Multi: true}, args...)
}

// step is the runtime step of s: a predefined step (runtime.NewRPC,
// NewAwait, NewPublish) or runtime.NewStep over the handler method, with
// the step's effective policies, rollback, publications and its whole
// Next table as options. Every outcome's target is written out, defaults
// included (dsl.Flow.StepEdges), so the generated code does not depend on
// the runtime's defaults agreeing with the language's.
func (g *flowGen) step(s *dsl.Step) jen.Code {
	id := jen.Id(g.names.StepConst(s.Name))
	opts := g.stepOptions(s)
	a := s.Action
	switch s.Kind() {
	case dsl.ActionRPC:
		args := []jen.Code{jen.Lit(a.Service), jen.Lit(a.Endpoint), g.readField(a.Request), g.withID(id)}
		if a.Response != nil {
			args = append(args, rt("WithResponse").Call(g.fieldPtr(a.Response)))
		}
		return g.rtS("NewRPC").Add(call(append(args, opts...)...))
	case dsl.ActionAwait:
		correlate := jen.Code(jen.Nil())
		if a.Correlate != nil {
			// Check requires a string underlying type for the field.
			correlate = g.stateFunc(jen.String(), jen.String().Call(jen.Id("s").Dot(a.Correlate.Name)))
		}
		args := []jen.Code{jen.Lit(a.Topic), jen.Lit(a.Event), g.fieldPtr(a.Response), correlate,
			duration(g.fl.TimeoutFor(s)), g.withID(id)}
		return g.rtS("NewAwait").Add(call(append(args, opts...)...))
	case dsl.ActionPublish:
		args := []jen.Code{jen.Lit(a.Topic), jen.Lit(a.Event), g.readField(a.Request), g.withID(id)}
		return g.rtS("NewPublish").Add(call(append(args, opts...)...))
	}
	args := []jen.Code{id, g.goExec(s)}
	return g.rtS("NewStep").Add(call(append(args, opts...)...))
}

func (g *flowGen) withID(id jen.Code) jen.Code { return g.rtS("WithID").Call(id) }

// goExec adapts the handler method of a Go step to runtime.Step.Exec.
func (g *flowGen) goExec(s *dsl.Step) jen.Code {
	method := jen.Id("h").Dot(s.Name).Call(jen.Id("ctx"), jen.Id("s"))
	if g.stepNames(s).OutcomeType != "" {
		return jen.Func().Params(g.ctxStateParams()...).Params(rt("Outcome"), jen.Error()).Block(
			jen.List(jen.Id("out"), jen.Err()).Op(":=").Add(method),
			jen.Return(rt("Outcome").Call(jen.Id("out")), jen.Err()),
		)
	}
	return jen.Func().Params(g.ctxStateParams()...).Params(rt("Outcome"), jen.Error()).
		Add(inlineBlock(jen.Return(rt("OutcomeOK"), method)))
}

// stepOptions are the options every kind of step shares, in a fixed order:
// retry, timeout, deadline, rollback, irreversible, publications,
// transitions.
func (g *flowGen) stepOptions(s *dsl.Step) []jen.Code {
	var opts []jen.Code
	if r := g.fl.RetryFor(s); r.Attempts > 1 {
		opts = append(opts, g.rtS("WithRetry").Call(retryPolicy(r)))
	}
	// An await's timeout is the wait's own (NewAwait's argument), which
	// ends the step with the timeout outcome instead of abandoning it.
	if t := g.fl.TimeoutFor(s); t > 0 && s.Kind() != dsl.ActionAwait {
		opts = append(opts, g.rtS("WithTimeout").Call(duration(t)))
	}
	if d := g.fl.DeadlineFor(s); d > 0 {
		opts = append(opts, g.rtS("WithDeadline").Call(duration(d)))
	}
	if rb := s.Rollback; rb != nil {
		opts = append(opts, rt("WithRollback").Call(g.rollbackFunc(s)))
		if r := g.fl.RollbackRetryFor(s); r.Attempts > 1 {
			opts = append(opts, g.rtS("WithRollbackRetry").Call(retryPolicy(r)))
		}
		if t := rollbackTimeout(g.fl, s); t > 0 {
			opts = append(opts, g.rtS("WithRollbackTimeout").Call(duration(t)))
		}
	}
	if s.Irreversible {
		opts = append(opts, g.rtS("WithIrreversible").Call())
	}
	for _, p := range s.Publish {
		opts = append(opts, g.rtS("WithPublish").Call(jen.Lit(p.Topic), jen.Lit(p.Event), g.readField(p.Payload)))
	}
	for _, e := range g.fl.StepEdges(s) {
		opts = append(opts, g.rtS("WithNext").Call(g.outcome(s, e.Outcome), g.target(e.To)))
	}
	return opts
}

// rollbackFunc is the runtime rollback of s: the handler's Go rollback
// method, or the rpc step prepared in undoVar(s.Name) by the constructor.
func (g *flowGen) rollbackFunc(s *dsl.Step) jen.Code {
	fn := jen.Func().Params(g.ctxStateParams()...).Error()
	if s.Rollback.IsGo() {
		return fn.Add(inlineBlock(jen.Return(jen.Id("h").Dot(s.Rollback.Name.Name).Call(jen.Id("ctx"), jen.Id("s")))))
	}
	return fn.Block(
		jen.List(jen.Id("_"), jen.Err()).Op(":=").Id(undoVar(s.Name)).Dot("Exec").Call(jen.Id("ctx"), jen.Id("s")),
		jen.Return(jen.Err()),
	)
}

// rollbackRPC declares the rpc step an rpc rollback runs:
// undoX := runtime.NewRPC[State](service, endpoint, request, response).
// It is never registered: the rollback calls its Exec, which finds the
// Caller through the rollback's context.
func (g *flowGen) rollbackRPC(s *dsl.Step) jen.Code {
	a := s.Rollback.Action
	args := []jen.Code{jen.Lit(a.Service), jen.Lit(a.Endpoint), g.readField(a.Request)}
	if a.Response != nil {
		args = append(args, rt("WithResponse").Call(g.fieldPtr(a.Response)))
	}
	return jen.Id(undoVar(s.Name)).Op(":=").Add(g.rtS("NewRPC")).Add(call(args...))
}

// rollbackTimeout is the per-attempt timeout of the rollback of s: what
// dsl.Flow.TimeoutFor gives, except for an await, whose own timeout bounds
// the wait and not the undo; its rollback takes the step's `timeout` only
// (awaits do not inherit the flow's policies).
func rollbackTimeout(fl *dsl.Flow, s *dsl.Step) time.Duration {
	if s.Kind() != dsl.ActionAwait {
		return fl.TimeoutFor(s)
	}
	return time.Duration(s.Timeout)
}
