package gen

import (
	"fmt"
	"go/token"
	"go/types"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// flowGen emits the code of one flow.
type flowGen struct {
	file   *dsl.File // the flows a call runs
	fl     *dsl.Flow
	names  *dsl.Names
	source string // base name of the .flow file
	state  string // the state type; "" when the flow declares none

	// Lookups computed once: the dsl helpers search the flow linearly,
	// which is quadratic over the steps of a large flow.
	consts map[string]string           // step name -> step constant
	byStep map[*dsl.Step]dsl.StepNames // generated names per step
	edges  map[*dsl.Step][]dsl.Edge    // dsl.Flow.Edges, per step
	index  map[*dsl.Step]int           // file-order index
	blocks map[string]*dsl.Step        // branch name -> its block (dsl.Flow.BranchBlocks)
	// calleeFlows are the flows of the file that fl calls (callees),
	// which the constructor and each function building a group of steps
	// name.
	calleeFlows []*dsl.Flow

	// flowRetry is the flow's retry policy when at least one step uses it
	// and it retries; the constructor declares it once as flowRetryVar.
	flowRetry *dsl.Retry

	// ports are the typed ports of the services the flow calls (ports.go);
	// imports are the packages their types come from (path -> name), and
	// typeNames the types of the generated file's own package they name,
	// which no local may shadow.
	ports     []portGen
	imports   map[string]string
	typeNames map[string]bool

	// pkg is the package generated into (Options.Types), nil with -nopkg.
	pkg *types.Package

	// members are the Go selections of the conditions that read members
	// of a state field (choose.go).
	members map[*dsl.Cond][]dsl.Selector

	// model is the flow's JSON form, compact: FlowJSON returns it.
	model string
}

// Local identifiers. The generated functions name their parameters and
// variables with fixed lower-case words (ctx, s, h, st, steps, ...). The
// only identifier of the user's package that those functions refer to is
// the flow's state type: every other package-level name they use is
// generated (and starts with the flow's upper-case name), an import
// (named apart from the package's names, imports.go) or predeclared, which
// a state type may not be. Check allows a lower-case state type, though, so local returns
// the word with an underscore appended when it is the state type's name: a
// state type h makes the handlers parameter h_. The same goes for the
// types of the package that the typed ports' signatures name (a field of
// type req), and the packages of the other types they name (a field of
// type p.ID). No word ends in an underscore, so the renamed local cannot
// meet another one.

// local is the generated name of the local variable or parameter word.
func (g *flowGen) local(word string) string {
	if word == g.state || g.typeNames[word] {
		return word + "_"
	}
	return word
}

// id is jen.Id of local(word).
func (g *flowGen) id(word string) *jen.Statement { return jen.Id(g.local(word)) }

func newFlowGen(file *dsl.File, fl *dsl.Flow, source, target string, pkg *types.Package) (*flowGen, error) {
	if !token.IsIdentifier(fl.Name) || !token.IsExported(fl.Name) {
		return nil, fmt.Errorf("gen: flow name %q is not an exported Go identifier", fl.Name)
	}
	if fl.State != nil {
		// What Check rejects, refused here for a model that was not checked:
		// the generated code would not compile.
		if d, bad := dsl.StateTypeProblem(fl); bad {
			return nil, fmt.Errorf("gen: flow %q: %s", fl.Name, d.Message)
		}
	}
	if len(fl.Steps) == 0 {
		return nil, fmt.Errorf("gen: flow %q has no steps", fl.Name)
	}
	g := &flowGen{file: file, fl: fl, names: fl.GoNamesFor(target), source: source,
		consts: map[string]string{}, byStep: map[*dsl.Step]dsl.StepNames{}, edges: map[*dsl.Step][]dsl.Edge{},
		index: map[*dsl.Step]int{}, imports: map[string]string{}, typeNames: map[string]bool{}, pkg: pkg}
	if fl.State != nil {
		g.state = fl.State.Name
	}
	if _, ds := fl.PortsChecked(); len(ds) > 0 {
		return nil, fmt.Errorf("gen: flow %q: %s", fl.Name, ds[0].Message)
	}
	ports, err := resolvePorts(fl, g.state, pkg, g.imports, g.typeNames)
	if err != nil {
		return nil, err
	}
	g.ports = ports
	if g.model, err = compactJSON(fl); err != nil {
		return nil, err
	}
	for _, sn := range g.names.Steps {
		g.byStep[sn.Step] = sn
		if _, dup := g.consts[sn.Step.Name]; !dup {
			g.consts[sn.Step.Name] = sn.Const
		}
	}
	for i, s := range fl.Steps {
		g.index[s] = i
	}
	g.blocks = fl.BranchBlocks()
	// The policy of a step that writes no retry of its own is the flow's.
	if r := fl.RetryFor(&dsl.Step{}); r.Attempts > 1 {
		for _, s := range fl.AllSteps() {
			if fl.RetryFor(s) == r {
				g.flowRetry = &r
				break
			}
		}
	}
	g.edges = fl.EdgesByStep()
	seen := map[string]bool{}
	for _, s := range fl.Steps {
		if s == nil {
			return nil, fmt.Errorf("gen: flow %q has a nil step", fl.Name)
		}
		if !token.IsIdentifier(s.Name) || !token.IsExported(s.Name) || seen[s.Name] {
			return nil, fmt.Errorf("gen: flow %q: step name %q is not a unique exported Go identifier", fl.Name, s.Name)
		}
		seen[s.Name] = true
		for _, e := range g.edges[s] {
			if _, ok := g.consts[e.To]; !ok && e.To != dsl.TargetDone && e.To != dsl.TargetFail {
				return nil, fmt.Errorf("gen: flow %q: step %q routes %q to unknown step %q", fl.Name, s.Name, e.Outcome, e.To)
			}
		}
		if err := checkAction(fl, s); err != nil {
			return nil, err
		}
		if s.IsBlock() {
			if err := g.checkBlock(s, seen); err != nil {
				return nil, err
			}
		}
		if err := g.checkPorts(s); err != nil {
			return nil, err
		}
		if err := checkCall(file, fl, s, s.Action); err != nil {
			return nil, err
		}
		if s.Rollback != nil {
			if err := checkCall(file, fl, s, s.Rollback.Action); err != nil {
				return nil, err
			}
		}
	}
	for _, m := range g.names.Methods {
		if !token.IsIdentifier(m.Name) || !token.IsExported(m.Name) {
			return nil, fmt.Errorf("gen: flow %q: method name %q is not an exported Go identifier", fl.Name, m.Name)
		}
	}
	// After checkAction, which refuses a condition that is not well formed.
	if g.members, err = resolveMembers(fl, g.state, pkg); err != nil {
		return nil, err
	}
	g.calleeFlows = g.findCallees()
	return g, nil
}

// checkPorts rejects an rpc action of step s (or of its rollback) that no
// typed port method serves.
func (g *flowGen) checkPorts(s *dsl.Step) error {
	var rb *dsl.Action
	if s.Rollback != nil {
		rb = s.Rollback.Action
	}
	for _, a := range []*dsl.Action{s.Action, rb} {
		if a != nil && a.Kind == dsl.ActionRPC {
			if p, _ := g.portOf(a); p == nil {
				return fmt.Errorf("gen: flow %q: step %q: rpc %s %s has no port method", g.fl.Name, s.Name, a.Service, a.Endpoint)
			}
		}
	}
	return nil
}

// checkAction rejects actions whose required parts are missing, which
// Check reports as errors but which a hand-made model could still contain.
func checkAction(fl *dsl.Flow, s *dsl.Step) error {
	check := func(a *dsl.Action, what string) error {
		if a == nil {
			return nil
		}
		if _, ok := dsl.LookupKind(a.Kind); !ok && a.Kind != "" {
			return fmt.Errorf("gen: flow %q: step %q: %s is of unknown kind %q", fl.Name, s.Name, what, a.Kind)
		}
		// Before the fields' names: an empty until field is what Check
		// reports it as.
		if a.Kind == dsl.ActionSleep {
			if d, bad := dsl.SleepProblem(s.Name, a, diag.Range{}); bad {
				return fmt.Errorf("gen: flow %q: %s", fl.Name, d.Message) // the message names the step
			}
		}
		for _, f := range a.Spec().Fields {
			if f.Role == "" {
				continue
			}
			if d, bad := dsl.FieldNameProblem(a.IdentField(f.Field), "state field"); bad {
				return d // at the name: the message names it
			}
		}
		if a.Kind == dsl.ActionChoose {
			if err := checkChoose(fl, s, a); err != nil {
				return err
			}
		}
		var names []string
		empty := false
		for _, f := range a.Spec().RequiredStrings() {
			names = append(names, string(f))
			empty = empty || a.StringField(f) == ""
		}
		if empty {
			return fmt.Errorf("gen: flow %q: step %q: %s without %s", fl.Name, s.Name, what, strings.Join(names, " or "))
		}
		return nil
	}
	if err := check(s.Action, "its action"); err != nil {
		return err
	}
	if rb := s.Rollback; rb != nil {
		if rb.Action != nil && !rb.Action.Spec().Rollback {
			return fmt.Errorf("gen: flow %q: step %q: a rollback is a Go method or an action of kind %s, not %s", fl.Name, s.Name, strings.Join(dsl.KindNames(true), ", "), rb.Action.Kind)
		}
		if err := check(rb.Action, "its rollback"); err != nil {
			return err
		}
		if rb.Action == nil && rb.Name == nil {
			return fmt.Errorf("gen: flow %q: step %q: empty rollback", fl.Name, s.Name)
		}
	}
	for _, p := range s.Publish {
		if p == nil || p.Topic == "" || p.Event == "" {
			return fmt.Errorf("gen: flow %q: step %q: publication without topic or event", fl.Name, s.Name)
		}
		if d, bad := dsl.FieldNameProblem(p.Payload, "state field"); bad {
			return d
		}
	}
	return nil
}

// emit adds the flow's declarations to jf, in the order a reader wants
// them: what the steps are, what to implement, how to run it.
func (g *flowGen) emit(jf *jen.File) {
	decls := []jen.Code{g.stepConsts()}
	decls = append(decls, g.outcomeTypes()...)
	decls = append(decls, g.handlers())
	decls = append(decls, g.portDecls()...)
	decls = append(decls, g.flowType(), g.constructor())
	decls = append(decls, g.stepFuncs()...)
	decls = append(decls, g.methods()...)
	decls = append(decls, g.runType())
	for _, d := range decls {
		jf.Line()
		jf.Add(d)
	}
}

// stepNames are the generated names of step s.
func (g *flowGen) stepNames(s *dsl.Step) dsl.StepNames {
	if sn, ok := g.byStep[s]; ok {
		return sn
	}
	return dsl.StepNames{Step: s}
}

// next is where outcome o of step s goes (dsl.Flow.Next).
func (g *flowGen) next(s *dsl.Step, o string) string {
	for _, e := range g.edges[s] {
		if e.Outcome == o {
			return e.To
		}
	}
	return g.fl.Next(s, o) // an outcome the step cannot produce
}

// stateType is the flow's state type, struct{} for a flow that declares
// none (Check allows that when the flow names no state field); statePtr is
// a pointer to it.
func (g *flowGen) stateType() *jen.Statement {
	if g.state == "" {
		return jen.Struct()
	}
	return jen.Id(g.state)
}
func (g *flowGen) statePtr() *jen.Statement { return jen.Op("*").Add(g.stateType()) }

// stateName is the state type in prose.
func (g *flowGen) stateName() string {
	if g.state == "" {
		return "empty state"
	}
	return g.state
}

// rt is a name of the runtime package.
func rt(name string) *jen.Statement { return jen.Qual(runtimePkg, name) }

// rtS is a generic runtime function instantiated with the state type,
// runtime.Name[State].
func (g *flowGen) rtS(name string) *jen.Statement { return rt(name).Types(g.stateType()) }

// stateFunc is func(s *State) <result> { return <body> }, on one line.
func (g *flowGen) stateFunc(result jen.Code, body jen.Code) *jen.Statement {
	return jen.Func().Params(g.id("s").Add(g.statePtr())).Add(result).Add(inlineBlock(jen.Return(body)))
}

// inlineBlock is a block that stays on one line: { stmt }. jen.Block always
// breaks lines, and gofmt keeps a function literal on one line only when
// it is written so.
func inlineBlock(stmt jen.Code) jen.Code {
	return jen.Custom(jen.Options{Open: "{ ", Close: " }"}, stmt)
}

// readField is func(s *State) any { return s.Field }, or nil without a field.
func (g *flowGen) readField(id *dsl.Ident) jen.Code {
	if id == nil {
		return jen.Nil()
	}
	return g.stateFunc(jen.Any(), g.id("s").Dot(id.Name))
}

// fieldPtr is func(s *State) any { return &s.Field }, or nil without a field.
func (g *flowGen) fieldPtr(id *dsl.Ident) jen.Code {
	if id == nil {
		return jen.Nil()
	}
	return g.stateFunc(jen.Any(), jen.Op("&").Add(g.id("s")).Dot(id.Name))
}

// ctxStateParams are the parameters (ctx context.Context, s *State).
func (g *flowGen) ctxStateParams() []jen.Code {
	return []jen.Code{g.id("ctx").Qual(contextPkg, "Context"), g.id("s").Add(g.statePtr())}
}

// target is the Go expression of a transition target.
func (g *flowGen) target(to string) jen.Code {
	switch to {
	case dsl.TargetDone:
		return rt("Done")
	case dsl.TargetFail:
		return rt("Fail")
	}
	return jen.Id(g.consts[to])
}

// outcome is the Go expression of an outcome of step s.
func (g *flowGen) outcome(s *dsl.Step, o string) jen.Code {
	switch o {
	case dsl.OutcomeOK:
		return rt("OutcomeOK")
	case dsl.OutcomeError:
		return rt("OutcomeError")
	case dsl.OutcomeTimeout:
		return rt("OutcomeTimeout")
	}
	if c := g.outcomeConst(s, o); c != "" {
		// A declared outcome is typed; Next is keyed by runtime.Outcome.
		return rt("Outcome").Call(jen.Id(c))
	}
	return jen.Lit(o)
}

// outcomeConst is the constant of a declared outcome of s, or "".
func (g *flowGen) outcomeConst(s *dsl.Step, o string) string {
	for _, on := range g.stepNames(s).Outcomes {
		if on.Outcome.Name == o {
			return on.Const
		}
	}
	return ""
}

// describeTarget says in words where a transition goes, for comments.
func describeTarget(to string) string {
	switch to {
	case dsl.TargetDone:
		return "ends the run done"
	case dsl.TargetFail:
		return "fails the run (completed steps roll back)"
	}
	return "goes to step " + to
}
