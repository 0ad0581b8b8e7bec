package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/runtime"
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
		out = append(out, "  - "+t.String())
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
	doc := fmt.Sprintf("%s returns the definition of flow %s with the Go steps of h, which may not be nil.", n.Constructor, g.fl.Name)
	if len(n.Methods) == 0 {
		doc = fmt.Sprintf("%s returns the definition of flow %s; h may be nil.", n.Constructor, g.fl.Name)
	}
	if len(g.ports) > 0 {
		doc += fmt.Sprintf(" Its rpc steps call the ports of svc, none of which may be nil (%s makes them from a runtime.Caller).", n.ServicesFromCaller)
	}
	doc += g.calleeDoc()
	if needs := g.needs(); len(needs) > 0 {
		doc += " opts must include " + diag.AndList(needs) + "; runtime.WithSink records every transition."
	} else {
		doc += " runtime.WithSink in opts records every transition."
	}
	body := append(g.handlersNil(), g.portsNil()...)
	body = append(body, g.calleeChecks()...)
	body = append(body,
		g.id("f").Op(":=").Add(g.rtS("New")).Call(jen.Lit(g.fl.Name), g.id("opts").Op("...")),
		g.id(stepsVar).Op(":=").Make(jen.Index().Op("*").Add(g.rtS("Step")), jen.Lit(0), jen.Lit(len(g.fl.Steps))),
	)
	groups := g.fl.StepGroups()
	if len(n.StepFuncs) == 0 {
		body = append(body, g.stepVars(groups[0])...)
	}
	if g.flowRetry != nil {
		body = append(body, jen.Line(), docComment(fmt.Sprintf("%s is the flow's retry policy, for the steps that write none.", g.local(flowRetryVar))),
			g.id(flowRetryVar).Op(":=").Add(retryPolicy(g.flowRetry.Policy())))
	}
	if len(n.StepFuncs) == 0 {
		for _, s := range groups[0] {
			body = append(body, g.step(s)...)
		}
	} else {
		body = append(body, jen.Line())
		for _, name := range n.StepFuncs {
			body = append(body, g.id(stepsVar).Op("=").Id(name).Call(g.stepFuncArgs()...))
		}
	}
	body = append(body,
		jen.Line(),
		jen.If(g.id("err").Op(":=").Add(g.id("f")).Dot("Register").Call(g.id(stepsVar).Op("...")), g.id("err").Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), g.id("err")),
		),
		jen.Return(jen.Op("&").Id(n.Type).Values(jen.Id("flow").Op(":").Add(g.id("f"))), jen.Nil()),
	)
	return jen.Add(docComment(prose(doc)...)).Line().
		Func().Id(n.Constructor).
		Params(g.constructorParams()...).
		Params(jen.Op("*").Id(n.Type), jen.Error()).
		Block(body...)
}

// handlersNil refuses nil handlers (runtime.IsNil: a nil *T in the
// interface too) when the flow has Go steps or Go rollbacks, which would
// otherwise panic at the first of them, after the steps before it did
// their work (portsNil and calleeChecks do the same for the other
// arguments). A flow without them has an empty handlers
// interface, which a runtime.Option satisfies too: NewXFlow(runtime.WithSink(st))
// would compile and run without its sink, so such an option is refused.
func (g *flowGen) handlersNil() []jen.Code {
	if len(g.names.Methods) == 0 {
		// A type switch, which declares no local a state type could be
		// named like.
		return []jen.Code{jen.Switch(g.id("h").Assert(jen.Type())).Block(
			jen.Case(rt("Option")).Block(
				jen.Return(jen.Nil(), rt("OptionAsHandlers").Call(jen.Lit(g.fl.Name), jen.Lit(g.names.Handlers), jen.Lit(g.names.Constructor))),
			),
		)}
	}
	return []jen.Code{jen.If(rt("IsNil").Call(g.id("h"))).Block(
		jen.Return(jen.Nil(), rt("MissingHandlers").Call(jen.Lit(g.fl.Name), jen.Lit(g.names.Handlers))),
	)}
}

// stepVars declares the variables that building steps uses: the step
// being built, and the branches of a block when steps have one.
func (g *flowGen) stepVars(steps []*dsl.Step) []jen.Code {
	out := []jen.Code{jen.Var().Add(g.id(stepVar)).Op("*").Add(g.rtS("Step"))}
	if slices.ContainsFunc(steps, (*dsl.Step).IsBlock) {
		out = append(out, jen.Var().Add(g.id(branchesVar)).Index().Op("*").Add(g.rtS("Step")))
	}
	return out
}

// stepFuncs declares the functions that build the steps of a flow too big
// for one function (dsl.Flow.StepGroups): each takes what the
// constructor's steps use, appends its group's steps and returns them.
func (g *flowGen) stepFuncs() []jen.Code {
	n := g.names
	if len(n.StepFuncs) == 0 {
		return nil
	}
	steps := func() *jen.Statement { return jen.Index().Op("*").Add(g.rtS("Step")) }
	params := g.depParams(g.calleeParams())
	if g.flowRetry != nil {
		params = append(params, g.id(flowRetryVar).Add(rt("RetryPolicy")))
	}
	params = append(params, g.id(stepsVar).Add(steps()))
	var out []jen.Code
	for i, group := range g.fl.StepGroups() {
		body := g.stepVars(group)
		for _, s := range group {
			body = append(body, g.step(s)...)
		}
		body = append(body, jen.Line(), jen.Return(g.id(stepsVar)))
		doc := fmt.Sprintf("%s builds steps %s to %s of flow %s and appends them to steps. "+
			"%s builds a flow of more than %d steps in groups, a function each, which the Go compiler compiles much faster than one function.",
			n.StepFuncs[i], group[0].Name, group[len(group)-1].Name, g.fl.Name, n.Constructor, dsl.StepsPerFunc)
		out = append(out, jen.Add(docComment(prose(doc)...)).Line().
			Func().Id(n.StepFuncs[i]).Params(params...).Params(steps()).Block(body...))
	}
	return out
}

// stepFuncArgs are the arguments of a call to a step function, in the
// order of its parameters (stepFuncs).
func (g *flowGen) stepFuncArgs() []jen.Code {
	args := []jen.Code{g.id("h")}
	if len(g.ports) > 0 {
		args = append(args, g.id("svc"))
	}
	for _, c := range g.callees() {
		args = append(args, jen.Id(g.calleeParam(c)))
	}
	if g.flowRetry != nil {
		args = append(args, g.id(flowRetryVar))
	}
	return append(args, g.id(stepsVar))
}

// needs lists the runtime options the flow's steps cannot run without.
// The generated rpc steps call their typed ports, not the runtime's
// Caller: the Caller is the ports' business (<Flow>ServicesFromCaller).
func (g *flowGen) needs() []string { return (g.fl.Needs() &^ dsl.NeedCaller).Options() }

// methods are the typed methods of the definition type. Each delegates to
// the runtime.Flow method of the same name.
func (g *flowGen) methods() []jen.Code {
	n := g.names
	recv := g.id("f").Op("*").Id(n.Type)
	inner := func() *jen.Statement { return g.id("f").Dot("flow") }
	run := func() *jen.Statement { return jen.Op("*").Id(n.Run) }
	ctx := func() jen.Code { return g.id("ctx").Qual(contextPkg, "Context") }
	runOpts := func() jen.Code { return g.id("opts").Op("...").Add(rt("RunOption")) }
	runID := func() jen.Code { return g.id("runID").String() }
	lister := func() jen.Code { return g.id("runs").Add(rt("RunLister")) }
	// method declares name(params) (results) { return f.flow.name(args) }.
	method := func(doc, name string, params, results []jen.Code, args ...string) jen.Code {
		var call []jen.Code
		for _, a := range args {
			if a == "opts" || a == "states" {
				call = append(call, g.id(a).Op("..."))
			} else {
				call = append(call, g.id(a))
			}
		}
		return jen.Add(docComment(prose(doc)...)).Line().
			Func().Params(recv.Clone()).Id(name).Params(params...).Params(results...).
			Block(jen.Return(inner().Dot(name).Call(call...)))
	}
	return []jen.Code{
		method(fmt.Sprintf("ID returns the flow's ID, %q.", g.fl.Name),
			"ID", nil, []jen.Code{jen.String()}),
		method(fmt.Sprintf("Start starts a run from state and returns at once; %s.Wait waits for its result. "+
			"Cancelling ctx aborts the run (use context.WithoutCancel to let it outlive a request); "+
			"runtime.WithRunID sets its ID.", n.Run),
			"Start", []jen.Code{ctx(), g.id("state").Add(g.stateType()), runOpts()}, []jen.Code{run(), jen.Error()},
			"ctx", "state", "opts"),
		method("Execute runs a run from state to its end on the calling goroutine. "+
			"The result holds the final state; the error is the result's Err, nil only when the run ends done.",
			"Execute", []jen.Code{ctx(), g.id("state").Add(g.stateType()), runOpts()},
			[]jen.Code{g.rtS("Result"), jen.Error()},
			"ctx", "state", "opts"),
		method("Run returns a live (not finished) run by ID.",
			"Run", []jen.Code{runID()}, []jen.Code{run(), jen.Bool()},
			"runID"),
		method("Status returns the state, step, attempt and history of a run, live or finished "+
			"(a finished run needs a sink that can load histories: a store of runtime/store, or runtime.MemorySink). "+
			"A run it cannot find, or one of another flow, is an error wrapping runtime.ErrUnknownRun.",
			"Status", []jen.Code{ctx(), runID()}, []jen.Code{rt("Status"), jen.Error()},
			"ctx", "runID"),
		method(fmt.Sprintf("State returns the latest %s of a run of this flow, live or finished "+
			"(a finished run needs a sink that can load histories), decoded from its last snapshot. "+
			"A run it cannot find, or one of another flow, is an error wrapping runtime.ErrUnknownRun.", g.stateName()),
			"State", []jen.Code{ctx(), runID()}, []jen.Code{g.stateType(), jen.Error()},
			"ctx", "runID"),
		method("History returns the events of a run of this flow, live or finished, from the flow's sink, "+
			"which must load histories (a store of runtime/store, or runtime.MemorySink).",
			"History", []jen.Code{ctx(), runID()}, []jen.Code{jen.Index().Add(rt("Event")), jen.Error()},
			"ctx", "runID"),
		method("Runs returns the IDs of this flow's runs that runs holds, in the order they started: "+
			"those in one of states (runtime.StateRunning, runtime.StateFailed, ...), or all of them. "+
			"runs is a store of runtime/store, or a runtime.MemorySink.",
			"Runs", []jen.Code{ctx(), lister(), g.id("states").Op("...").Add(rt("RunState"))}, []jen.Code{jen.Index().String(), jen.Error()},
			"ctx", "runs", "states"),
		method("ResumeAll resumes every run of this flow that runs holds and that is not over: "+
			"call it when the process starts, before new runs, with the store the flow emits to (runtime.WithSink). "+
			"Completed steps do not run again, the step that was running runs again with the same idempotency key, "+
			"a rollback in progress continues, and the state comes from the last snapshot. "+
			"A run that cannot be resumed (its history no longer fits the flow) is skipped and named in the error; "+
			"the others are resumed all the same.",
			"ResumeAll", []jen.Code{ctx(), lister()}, []jen.Code{jen.Index().Add(run()), jen.Error()},
			"ctx", "runs"),
		method("Resume continues one run that is not over from its history: "+
			"completed steps do not run again and the step that was running runs again with the same idempotency key.",
			"Resume", []jen.Code{ctx(), g.id("history").Index().Add(rt("Event")), runOpts()}, []jen.Code{run(), jen.Error()},
			"ctx", "history", "opts"),
		method("Abort aborts a live run: its running step is cancelled and its completed steps roll back. "+
			"A run that is not live in this process (finished, or not started or resumed here) is an error wrapping runtime.ErrUnknownRun.",
			"Abort", []jen.Code{runID()}, []jen.Code{jen.Error()},
			"runID"),
		method("SuspendAll suspends every live run of this flow, as a process that shuts down does, "+
			"and waits until each has stopped at a step boundary (or its wait is let go), or until ctx ends. "+
			"Nothing is recorded: ResumeAll continues them in the next process. "+
			"Cancelling the context the runs were started with would abort them instead.",
			"SuspendAll", []jen.Code{ctx()}, []jen.Code{jen.Error()},
			"ctx"),
		jen.Add(docComment(prose("Runtime returns the underlying runtime definition, for what the typed methods do not cover (Steps, engines).")...)).Line().
			Func().Params(recv.Clone()).Id("Runtime").Params().Params(jen.Op("*").Add(g.rtS("Flow"))).
			Block(jen.Return(inner())),
		g.triggersMethod(recv.Clone()),
		jen.Add(docComment(prose(fmt.Sprintf("FlowJSON returns flow %s's JSON form (a document of this flow alone, as flowgen json writes it, compact): "+
			"engine.Register draws the flow's diagrams from it. Each call returns a new slice.", g.fl.Name))...)).Line().
			Func().Params(recv.Clone()).Id("FlowJSON").Params().Params(jen.Index().Byte()).
			Block(jen.Return(jen.Index().Byte().Parens(rawLit(g.model)))),
	}
}

// rawLit is s as a raw string literal, which a reader of JSON can read,
// or, when s holds a backquote, as an interpreted one.
func rawLit(s string) jen.Code {
	if strings.ContainsAny(s, "`\r") {
		return jen.Lit(s)
	}
	return jen.Op("`" + s + "`")
}

// compactJSON is fl's JSON form as a document of its own, without the
// indentation: what FlowJSON returns.
func compactJSON(fl *dsl.Flow) (string, error) {
	doc, err := dsl.EncodeJSON(&dsl.File{Flows: []*dsl.Flow{fl}})
	if err != nil {
		return "", fmt.Errorf("gen: %w", err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, doc); err != nil {
		return "", fmt.Errorf("gen: flow %q: JSON form: %w", fl.Name, err)
	}
	return b.String(), nil
}

// triggersMethod declares Triggers: the flow's trigger lines as
// runtime.Trigger values, so that an engine can start the flow from its
// .flow file's declarations (engine.Register with no triggers).
func (g *flowGen) triggersMethod(recv jen.Code) jen.Code {
	var items []jen.Code
	for _, t := range g.fl.Triggers {
		if t == nil {
			continue
		}
		if lit := triggerLit(t.Trigger); lit != nil {
			items = append(items, lit)
		}
	}
	doc := fmt.Sprintf("Triggers returns what starts flow %s, as %s declares it; engine.Register uses them when it is given none. "+
		"Each call returns a new slice.", g.fl.Name, g.source)
	ret := jen.Return(jen.Index().Add(rt("Trigger")).Custom(jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}, items...))
	if len(items) == 0 {
		doc = fmt.Sprintf("Triggers returns nil: flow %s declares no trigger in %s, so only Start (or an engine's API) starts it.", g.fl.Name, g.source)
		ret = jen.Return(jen.Nil())
	}
	return jen.Add(docComment(prose(doc)...)).Line().
		Func().Params(recv).Id("Triggers").Params().Params(jen.Index().Add(rt("Trigger"))).
		Block(ret)
}

// triggerKinds are the names of runtime's TriggerKind constants.
var triggerKinds = map[runtime.TriggerKind]string{
	runtime.TriggerRPC:      "TriggerRPC",
	runtime.TriggerEvent:    "TriggerEvent",
	runtime.TriggerSchedule: "TriggerSchedule",
}

// triggerLit is the runtime.Trigger value t (the model's trigger is one)
// as an element of a []runtime.Trigger literal: its kind's constant, then
// every other field it sets, in declaration order, found by reflection so
// that a field added to runtime.Trigger is generated too. Which fields a
// kind sets is the model's business (Build, DecodeJSON and Check), not the
// generator's. nil for an unknown kind, which Check rejects.
func triggerLit(t runtime.Trigger) jen.Code {
	kind, ok := triggerKinds[t.Kind]
	if !ok {
		return nil
	}
	fields := []jen.Code{jen.Id("Kind").Op(":").Add(rt(kind))}
	v := reflect.ValueOf(t)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Name == "Kind" || v.Field(i).IsZero() {
			continue
		}
		fields = append(fields, jen.Id(f.Name).Op(":").Lit(v.Field(i).Interface()))
	}
	return jen.Values(fields...)
}

// runType names the typed run: the runtime's run of the state type.
func (g *flowGen) runType() jen.Code {
	n := g.names
	return jen.Add(docComment(prose(fmt.Sprintf(
		"%s is one run of flow %s, as Start returns it: Wait for its result, Abort it, or ask its Status.", n.Run, g.fl.Name))...,
	)).Line().Type().Id(n.Run).Op("=").Add(g.rtS("Run"))
}

// constructorParams are the constructor's parameters: the handlers, the
// services when the flow calls some, the runtime options. The Temporal
// target's constructor takes the same.
func (g *flowGen) constructorParams() []jen.Code { return g.paramsWith(g.calleeParams()) }

// paramsWith are a constructor's parameters with callees as the flows it
// calls: the handlers, the services, the callees, the options.
func (g *flowGen) paramsWith(callees []jen.Code) []jen.Code {
	return append(g.depParams(callees), g.id("opts").Op("...").Add(rt("Option")))
}

// depParams are the parameters of what the steps' code uses: the
// handlers, the services when the flow calls some, the callees. The
// constructors take them, and so do the step functions of a big flow.
func (g *flowGen) depParams(callees []jen.Code) []jen.Code {
	params := []jen.Code{g.id("h").Id(g.names.Handlers)}
	if len(g.ports) > 0 {
		params = append(params, g.id("svc").Id(g.names.Services))
	}
	return append(params, callees...)
}
