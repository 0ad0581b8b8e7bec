package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/dsl"
)

// flowType is the typed definition: a runtime.Flow of the state type
// behind methods that take and return the state type.
func (g *flowGen) flowType() jen.Code {
	n := g.names
	doc := paragraphs(
		prose(fmt.Sprintf("%s is flow %s of %s: one definition that runs any number of concurrent runs, "+
			"each with its own ID, %s and history. Create it with %s.", n.Type, g.fl.Name, g.source, g.stateName(), n.Constructor)),
		docLines(g.fl.Doc),
		triggers(g.fl),
	)
	return jen.Add(docComment(doc...)).Line().
		Type().Id(n.Type).Struct(jen.Id("flow").Op("*").Add(g.rtS("Flow")))
}

// triggers describes what starts the flow, for the doc comment.
func triggers(fl *dsl.Flow) []string {
	var out []string
	for _, t := range fl.Triggers {
		if t == nil {
			continue
		}
		switch t.Kind {
		case dsl.TriggerRPC:
			out = append(out, fmt.Sprintf("  - rpc %q", t.Endpoint))
		case dsl.TriggerEvent:
			out = append(out, fmt.Sprintf("  - event %s %q", t.Topic, t.Event))
		case dsl.TriggerSchedule:
			out = append(out, fmt.Sprintf("  - schedule %q", t.Schedule))
		}
	}
	if len(out) == 0 {
		return nil
	}
	return append([]string{"Triggers:", ""}, out...)
}

// constructor builds the runtime definition: every step in file order
// (see step), then one Register call.
func (g *flowGen) constructor() jen.Code {
	n := g.names
	doc := fmt.Sprintf("%s returns the definition of flow %s with the Go steps of h.", n.Constructor, g.fl.Name)
	if len(n.Methods) == 0 {
		doc = fmt.Sprintf("%s returns the definition of flow %s; h may be nil.", n.Constructor, g.fl.Name)
	}
	if needs := g.needs(); len(needs) > 0 {
		doc += " opts must include " + andList(needs) + "; runtime.WithSink records every transition."
	} else {
		doc += " runtime.WithSink in opts records every transition."
	}
	body := []jen.Code{
		jen.Id("f").Op(":=").Add(g.rtS("New")).Call(jen.Lit(g.fl.Name), jen.Id("opts").Op("...")),
		jen.Id(stepsVar).Op(":=").Make(jen.Index().Op("*").Add(g.rtS("Step")), jen.Lit(0), jen.Lit(len(g.fl.Steps))),
		jen.Var().Id(stepVar).Op("*").Add(g.rtS("Step")),
	}
	if g.flowRetry != nil {
		body = append(body, jen.Line(), docComment(fmt.Sprintf("%s is the flow's retry policy, for the steps that write none.", flowRetryVar)),
			jen.Id(flowRetryVar).Op(":=").Add(retryPolicy(*g.flowRetry)))
	}
	for _, s := range g.fl.Steps {
		body = append(body, g.step(s)...)
	}
	body = append(body,
		jen.Line(),
		jen.If(jen.Err().Op(":=").Id("f").Dot("Register").Call(jen.Id(stepsVar).Op("...")), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Err()),
		),
		jen.Return(jen.Op("&").Id(n.Type).Values(jen.Id("flow").Op(":").Id("f")), jen.Nil()),
	)
	return jen.Add(docComment(prose(doc)...)).Line().
		Func().Id(n.Constructor).
		Params(jen.Id("h").Id(n.Handlers), jen.Id("opts").Op("...").Add(rt("Option"))).
		Params(jen.Op("*").Id(n.Type), jen.Error()).
		Block(body...)
}

// needs lists the runtime options the flow's steps cannot run without.
func (g *flowGen) needs() []string {
	var caller, pub, sub bool
	for _, s := range g.fl.Steps {
		switch s.Kind() {
		case dsl.ActionRPC:
			caller = true
		case dsl.ActionAwait:
			sub = true
		case dsl.ActionPublish:
			pub = true
		}
		if s.Rollback != nil && s.Rollback.Action != nil {
			caller = true
		}
		if len(s.Publish) > 0 {
			pub = true
		}
	}
	var out []string
	if caller {
		out = append(out, "runtime.WithCaller (rpc)")
	}
	if pub {
		out = append(out, "runtime.WithPublisher (publish)")
	}
	if sub {
		out = append(out, "runtime.WithSubscriber (await)")
	}
	return out
}

// methods are the typed methods of the definition type.
func (g *flowGen) methods() []jen.Code {
	n := g.names
	recv := jen.Id("f").Op("*").Id(n.Type)
	inner := func() *jen.Statement { return jen.Id("f").Dot("flow") }
	run := jen.Op("*").Id(n.Run)
	ctx := jen.Id("ctx").Qual(contextPkg, "Context")
	runOpts := jen.Id("opts").Op("...").Add(rt("RunOption"))
	method := func(doc string, name string, params []jen.Code, results []jen.Code, body ...jen.Code) jen.Code {
		return jen.Add(docComment(prose(doc)...)).Line().
			Func().Params(recv).Id(name).Params(params...).Params(results...).Block(body...)
	}
	return []jen.Code{
		method(fmt.Sprintf("ID returns the flow's ID, %q.", g.fl.Name),
			"ID", nil, []jen.Code{jen.String()},
			jen.Return(inner().Dot("ID").Call())),
		method(fmt.Sprintf("Start starts a run from state and returns at once; %s.Wait waits for its result. "+
			"Cancelling ctx aborts the run (use context.WithoutCancel to let it outlive a request); "+
			"runtime.WithRunID sets its ID.", n.Run),
			"Start", []jen.Code{ctx, jen.Id("state").Add(g.stateType()), runOpts}, []jen.Code{run, jen.Error()},
			jen.Return(inner().Dot("Start").Call(jen.Id("ctx"), jen.Id("state"), jen.Id("opts").Op("...")))),
		method("Execute runs a run from state to its end on the calling goroutine. "+
			"The result holds the final state; the error is the result's Err, nil only when the run ends done.",
			"Execute", []jen.Code{ctx, jen.Id("state").Add(g.stateType()), runOpts},
			[]jen.Code{g.rtS("Result"), jen.Error()},
			jen.Return(inner().Dot("Execute").Call(jen.Id("ctx"), jen.Id("state"), jen.Id("opts").Op("...")))),
		method("Run returns a live (not finished) run by ID.",
			"Run", []jen.Code{jen.Id("runID").String()}, []jen.Code{run.Clone(), jen.Bool()},
			jen.Return(inner().Dot("Run").Call(jen.Id("runID")))),
		method("Status returns the state, step, attempt and history of a run, live or finished "+
			"(a finished run needs a sink that can load histories, such as runtime.MemorySink).",
			"Status", []jen.Code{jen.Id("runID").String()}, []jen.Code{rt("Status"), jen.Error()},
			jen.Return(inner().Dot("Status").Call(jen.Id("runID")))),
		method(fmt.Sprintf("State returns the latest %s of a run, live or finished, decoded from the snapshot of its status.", g.stateName()),
			"State", []jen.Code{jen.Id("runID").String()}, []jen.Code{g.stateType(), jen.Error()},
			jen.Var().Id("state").Add(g.stateType()),
			jen.List(jen.Id("st"), jen.Err()).Op(":=").Add(inner().Dot("Status").Call(jen.Id("runID"))),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id("state"), jen.Err())),
			jen.Err().Op("=").Qual(jsonPkg, "Unmarshal").Call(jen.Id("st").Dot("Snapshot"), jen.Op("&").Id("state")),
			jen.Return(jen.Id("state"), jen.Err())),
		method("Resume continues a run that is not over from its history (read from a durable store after a crash): "+
			"completed steps do not run again and the step that was running runs again with the same idempotency key.",
			"Resume", []jen.Code{ctx, jen.Id("history").Index().Add(rt("Event")), runOpts}, []jen.Code{run.Clone(), jen.Error()},
			jen.Return(inner().Dot("Resume").Call(jen.Id("ctx"), jen.Id("history"), jen.Id("opts").Op("...")))),
		method("Abort aborts a live run: its running step is cancelled and its completed steps roll back.",
			"Abort", []jen.Code{jen.Id("runID").String()}, []jen.Code{jen.Error()},
			jen.Return(inner().Dot("Abort").Call(jen.Id("runID")))),
		method("Runtime returns the underlying runtime definition, for what the typed methods do not cover (Steps, engines).",
			"Runtime", nil, []jen.Code{jen.Op("*").Add(g.rtS("Flow"))},
			jen.Return(inner())),
	}
}

// runType names the typed run: the runtime's run of the state type.
func (g *flowGen) runType() jen.Code {
	n := g.names
	return jen.Add(docComment(prose(fmt.Sprintf(
		"%s is one run of flow %s, as Start returns it: Wait for its result, Abort it, or ask its Status.", n.Run, g.fl.Name))...,
	)).Line().Type().Id(n.Run).Op("=").Add(g.rtS("Run"))
}
