package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// Targets of Generate: what the generated code runs on (dsl's, which
// decide the generated names).
const (
	// TargetRuntime is the flowgen runtime (the default).
	TargetRuntime = dsl.TargetRuntime
	// TargetTemporal is Temporal: the runtime target's code, plus per flow
	// a workflow, its activities, registration and a typed starter, built
	// on module github.com/flowgen/flowgen/temporal (docs/temporal.md),
	// named by dsl.TemporalNames.
	TargetTemporal = dsl.TargetTemporal
)

// CheckTarget accepts the targets Generate knows; "" is TargetRuntime.
func CheckTarget(target string) error {
	switch target {
	case "", TargetRuntime, TargetTemporal:
		return nil
	}
	return fmt.Errorf("unknown target %q (want %q or %q)%s", target, TargetRuntime, TargetTemporal,
		diag.Suggestion(target, []string{TargetRuntime, TargetTemporal}))
}

// emitTemporal adds the Temporal declarations of the flow. They wrap the
// runtime target's definition (NewXFlow): the same handlers, steps,
// routing and policies, which flowtemporal runs as a workflow.
func (g *flowGen) emitTemporal(jf *jen.File) {
	n, tn := g.names, g.names.Temporal
	ft := func(name string) *jen.Statement { return jen.Qual(flowtemporalPkg, name) }
	tFlow := ft("Flow").Types(g.stateType())
	recv := func() *jen.Statement { return jen.Parens(g.id("t").Op("*").Id(tn.Type)) }

	decls := []jen.Code{
		jen.Add(docComment(prose(fmt.Sprintf("%s is flow %s on Temporal: its workflow (type %q) and one activity per step "+
			"that does work and per rollback (%q, ...), for a worker (Register). Create it with %s; start runs with %s.",
			tn.Type, g.fl.Name, g.fl.Name, g.fl.Name+"."+firstActivity(g.fl), tn.Constructor, tn.Starter))...)).Line().
			Type().Id(tn.Type).Struct(jen.Id("flow").Op("*").Add(tFlow), jen.Id("def").Op("*").Id(n.Type)),

		jen.Add(docComment(prose(fmt.Sprintf("%s returns flow %s for a Temporal worker, with the same handlers and services as %s. "+
			"Its activities call the handlers, the service ports (rpc) and opts' runtime.WithPublisher (publish) on the worker; "+
			"awaits are Temporal signals (%s.Deliver), so it takes no Subscriber (a runtime.WithSubscriber in opts is refused); runtime.WithSink sees every transition "+
			"(docs/temporal.md says from where).%s", tn.Constructor, g.fl.Name, n.Constructor, tn.Run, g.temporalCalleeDoc()))...)).Line().
			Func().Id(tn.Constructor).Params(g.temporalParams()...).
			Params(jen.Op("*").Id(tn.Type), jen.Error()).Block(
			append(g.calleeChecks(),
				jen.List(g.id("f"), g.id("err")).Op(":=").Id(n.Constructor).Call(g.temporalArgs(
					jen.Append(jen.Index().Add(rt("Option")).Values(ft("Awaits").Call()), g.id("opts").Op("...")).Op("..."))...),
				jen.If(g.id("err").Op("!=").Nil()).Block(jen.Return(jen.Nil(), g.id("err"))),
				jen.List(g.id("t"), g.id("err")).Op(":=").Add(ft("New")).Call(g.temporalNewArgs()...),
				jen.If(g.id("err").Op("!=").Nil()).Block(jen.Return(jen.Nil(), g.id("err"))),
				jen.Return(jen.Op("&").Id(tn.Type).Values(jen.Dict{jen.Id("flow"): g.id("t"), jen.Id("def"): g.id("f")}), jen.Nil()),
			)...,
		),

		jen.Add(docComment(prose(fmt.Sprintf("Register registers the workflow of flow %s and its activities with a worker%s.", g.fl.Name, g.temporalRegisterDoc()))...)).Line().
			Func().Add(recv()).Id("Register").Params(g.id("r").Qual(workerPkg, "Registry")).
			Block(g.id("t").Dot("flow").Dot("Register").Call(g.id("r"))),

		jen.Add(docComment(prose(fmt.Sprintf("Workflow is the Temporal workflow of flow %s: one run from state to its end. "+
			"It returns the final state of a run that ends done (through a pointer, as every state goes to the SDK); any other end is an error whose details %s.Wait reads.", g.fl.Name, tn.Run))...)).Line().
			Func().Add(recv()).Id("Workflow").Params(g.id("ctx").Qual(workflowPkg, "Context"), g.id("state").Add(g.stateType())).
			Params(jen.Op("*").Add(g.stateType()), jen.Error()).
			Block(jen.Return(g.id("t").Dot("flow").Dot("Workflow").Call(g.id("ctx"), g.id("state")))),

		jen.Add(docComment(prose(fmt.Sprintf("%s starts a run of flow %s on Temporal from state and returns its handle. "+
			"opts.ID is the run's ID (Temporal generates one when it is empty) and opts.TaskQueue the queue of the workers "+
			"that registered %s. It needs no handlers: a client that only starts runs calls it.", tn.Starter, g.fl.Name, tn.Type))...)).Line().
			Func().Id(tn.Starter).Params(g.id("ctx").Qual(contextPkg, "Context"), g.id("c").Qual(clientPkg, "Client"),
			g.id("state").Add(g.stateType()), g.id("opts").Qual(clientPkg, "StartWorkflowOptions")).
			Params(jen.Op("*").Id(tn.Run), jen.Error()).
			Block(jen.Return(ft("Start").Types(g.stateType()).Call(g.id("ctx"), g.id("c"), jen.Lit(g.fl.Name), g.id("state"), g.id("opts")))),

		jen.Add(docComment(prose(fmt.Sprintf("%s is one run of flow %s on Temporal, as %s returns it: Wait for its result, "+
			"ask its Status or History, Deliver an event to it, or Abort it.", tn.Run, g.fl.Name, tn.Starter))...)).Line().
			Type().Id(tn.Run).Op("=").Add(ft("Run").Types(g.stateType())),
	}
	for _, d := range decls {
		jf.Line()
		jf.Add(d)
	}
}

// temporalParams are NewXTemporal's parameters: NewXFlow's, with each
// flow it calls as that flow's Temporal definition (*BillingTemporal),
// whose workflow its calls run as child workflows.
func (g *flowGen) temporalParams() []jen.Code {
	var callees []jen.Code
	for _, c := range g.callees() {
		callees = append(callees, jen.Id(g.calleeParam(c)).Op("*").Id(dsl.TemporalNamesOf(c.Name).Type))
	}
	return g.paramsWith(callees)
}

// temporalArgs pass temporalParams on to NewXFlow, each callee as its
// runtime definition, opts last (as given).
func (g *flowGen) temporalArgs(opts jen.Code) []jen.Code {
	args := []jen.Code{g.id("h")}
	if len(g.ports) > 0 {
		args = append(args, g.id("svc"))
	}
	for _, c := range g.callees() {
		args = append(args, jen.Id(g.calleeParam(c)).Dot("def"))
	}
	return append(args, opts)
}

// temporalNewArgs are flowtemporal.New's: the runtime definition, then
// the Temporal definitions of the flows it calls.
func (g *flowGen) temporalNewArgs() []jen.Code {
	args := []jen.Code{g.id("f").Dot("Runtime").Call()}
	for _, c := range g.callees() {
		args = append(args, jen.Id(g.calleeParam(c)).Dot("flow"))
	}
	return args
}

// temporalCalleeDoc says how NewXTemporal runs the flows it calls, or "".
func (g *flowGen) temporalCalleeDoc() string {
	var names []string
	for _, c := range g.callees() {
		names = append(names, g.calleeParam(c))
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" Its calls run child workflows of %s (build them first, with %s), which Register registers too.",
		diag.AndList(names), diag.AndList(temporalConstructors(g.callees())))
}

// temporalRegisterDoc adds the flows Register registers besides the flow's.
func (g *flowGen) temporalRegisterDoc() string {
	var names []string
	for _, c := range g.callees() {
		names = append(names, c.Name)
	}
	if len(names) == 0 {
		return ""
	}
	return ", and those of the flows it calls (" + diag.AndList(names) + ", and the flows they call)"
}

func temporalConstructors(fs []*dsl.Flow) []string {
	var out []string
	for _, f := range fs {
		out = append(out, dsl.TemporalNamesOf(f.Name).Constructor)
	}
	return out
}

// firstActivity is the flow's first step with an activity of its own: a
// block has none, its first branch has.
func firstActivity(fl *dsl.Flow) string {
	s := fl.Steps[0]
	if bs := s.Branches(); len(bs) > 0 {
		s = bs[0]
	}
	return s.Name
}
