package dsl

import (
	"fmt"
	"go/token"
	"go/types"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// Generated Go names. The generator emits exactly the identifiers listed by
// GoNamesFor its target and nothing else at package level, and Check
// (with that CheckOptions.Target) verifies that they are valid and do not
// collide, so a flow that checks clean always generates code that
// compiles.
//
// For flow Signup:
//
//	SignupHandlers                     interface: one method per Go step and Go rollback
//	SignupFlow                         the flow definition type
//	NewSignupFlow                      its constructor
//	SignupRun                          a typed run
//	SignupStep<Step>                   step ID constant, e.g. SignupStepCreateCustomer
//	Signup<Step>Outcome                type of a Go step's declared outcomes, e.g.
//	                                   SignupReviewOutcome (only for steps that declare some)
//	Signup<Step>Outcome<Outcome>       declared outcome constant, e.g. SignupReviewOutcomeApproved
//	                                   (the outcome in CamelCase: needs_review -> NeedsReview);
//	                                   built-in outcomes use runtime.OutcomeOK etc.
//	Signup<Service>                    a service's port, e.g. SignupCustomers (flows with rpc lines; ports.go)
//	Signup<Service>Caller              the port over a runtime.Caller
//	SignupServices                     the ports the constructor takes, one field per service
//	SignupServicesFromCaller           SignupServices over one runtime.Caller
//
// The Temporal target (TargetTemporal, flowgen gen -target temporal) adds,
// per flow (gen/temporal.go):
//
//	SignupTemporal                     flow Signup on Temporal
//	NewSignupTemporal                  its constructor
//	StartSignup                        starts a run on Temporal
//	SignupTemporalRun                  a run on Temporal
//
// Methods of SignupHandlers are named after the Go step (Review) or the Go
// rollback (CancelSubscription) they implement.
//
// Naming rules that Check enforces (code "name"):
//   - Flow, step and Go rollback names must be Go identifiers starting with
//     an upper-case letter: they become exported types, constants and
//     methods, and keeping the .flow name and the Go name identical makes
//     both greppable. The hint suggests the capitalised name.
//   - Outcome names must be identifiers (letters, digits, underscores, not
//     starting with a digit); they are strings at run time and only their
//     CamelCase appears in Go.
//   - The state type must be an identifier that is not a Go keyword and
//     not a predeclared identifier (int, error, ...). It may have the name
//     of a package the generated code imports: the generator then imports
//     that package under another name (gen/imports.go), as it does for
//     any other name the package declares.
//
// Collisions (code "name-collision"): every package-level identifier above,
// over all flows of the file, plus the state type names, must be distinct;
// and within a flow a Go rollback may not share its name with a step. The
// generated files of one Go package compile together, so the identifiers
// must also differ from those of the flows of the package's other .flow
// files that are generated there (checkPackageNames; a flow declared in
// two files is a "duplicate-flow"), and from the names the package's own
// Go code declares at package level (DeclaredNameCollisions, run by
// dsl/gocheck).

// Targets of the generated code (gen.Options.Target, flowgen gen
// -target): what it runs on. "" is TargetRuntime.
const (
	// TargetRuntime is the flowgen runtime.
	TargetRuntime = "runtime"
	// TargetTemporal is Temporal: the runtime target's code, and per flow
	// the identifiers of TemporalNames.
	TargetTemporal = "temporal"
)

// Names are the generated Go identifiers of one flow.
type Names struct {
	Flow        *Flow
	Handlers    string // SignupHandlers
	Type        string // SignupFlow
	Constructor string // NewSignupFlow
	Run         string // SignupRun
	Steps       []StepNames
	Methods     []GoMethod // the Handlers interface's methods, see Flow.GoMethods
	// Ports are the services the flow's rpc lines call (Flow.Ports);
	// Services and ServicesFromCaller are "" when there are none.
	Ports              []Port
	Services           string // SignupServices
	ServicesFromCaller string // SignupServicesFromCaller
	// StepFuncs are the unexported functions that build the steps of a
	// flow too big for one function, one per group of StepGroups
	// (newSignupSteps0, ...); nil when the constructor builds them itself.
	StepFuncs []string
	// Temporal are the Temporal target's identifiers; nil for the
	// runtime target.
	Temporal *TemporalNames
}

// TemporalNames are the identifiers the Temporal target adds for a flow.
type TemporalNames struct {
	Type        string // SignupTemporal
	Constructor string // NewSignupTemporal
	Starter     string // StartSignup
	Run         string // SignupTemporalRun
}

// TemporalNamesOf are the Temporal target's identifiers of the flow named
// flow; the code of a flow that calls it names them too.
func TemporalNamesOf(flow string) TemporalNames {
	return TemporalNames{Type: flow + "Temporal", Constructor: "New" + flow + "Temporal", Starter: "Start" + flow, Run: flow + "TemporalRun"}
}

// StepNames are the identifiers generated for one step.
type StepNames struct {
	Step  *Step
	Const string // SignupStepCreateCustomer
	// OutcomeType is the Go type of the step's declared outcomes
	// (SignupReviewOutcome), returned by its handler method; "" when the
	// step declares no outcome other than the built-ins.
	OutcomeType string
	Outcomes    []OutcomeName
}

// OutcomeName is the constant generated for one declared outcome.
type OutcomeName struct {
	Outcome *Ident
	Const   string // SignupReviewOutcomeApproved
}

// GoNames computes the generated identifiers of f for the runtime target.
func (f *Flow) GoNames() *Names { return f.GoNamesFor(TargetRuntime) }

// GoNamesFor computes the generated identifiers of f for target (a Target
// constant; anything else is the runtime target).
func (f *Flow) GoNamesFor(target string) *Names {
	n := &Names{
		Flow:        f,
		Handlers:    f.Name + "Handlers",
		Type:        f.Name + "Flow",
		Constructor: "New" + f.Name + "Flow",
		Run:         f.Name + "Run",
		Methods:     f.GoMethods(),
		Ports:       f.Ports(),
	}
	if len(n.Ports) > 0 {
		n.Services = f.Name + "Services"
		n.ServicesFromCaller = f.Name + "ServicesFromCaller"
	}
	if groups := f.StepGroups(); len(groups) > 1 {
		for i := range groups {
			n.StepFuncs = append(n.StepFuncs, fmt.Sprintf("new%sSteps%d", f.Name, i))
		}
	}
	for _, s := range f.AllSteps() {
		if s == nil {
			continue
		}
		sn := StepNames{Step: s, Const: f.Name + "Step" + s.Name}
		seen := map[string]bool{}
		for _, o := range s.Outcomes {
			if o == nil || seen[o.Name] || isBuiltinOutcome(o.Name) {
				continue
			}
			seen[o.Name] = true
			sn.Outcomes = append(sn.Outcomes, OutcomeName{Outcome: o, Const: f.Name + s.Name + "Outcome" + CamelCase(o.Name)})
		}
		if len(sn.Outcomes) > 0 {
			sn.OutcomeType = f.Name + s.Name + "Outcome"
		}
		n.Steps = append(n.Steps, sn)
	}
	if target == TargetTemporal {
		t := TemporalNamesOf(f.Name)
		n.Temporal = &t
	}
	return n
}

// StepConst returns the constant for the step named step, or "".
func (n *Names) StepConst(step string) string {
	for _, s := range n.Steps {
		if s.Step.Name == step {
			return s.Const
		}
	}
	return ""
}

// OutcomeConst returns the constant for a declared outcome of a step, or
// "" (built-in outcomes have no generated constant).
func (n *Names) OutcomeConst(step, outcome string) string {
	for _, s := range n.Steps {
		if s.Step.Name != step {
			continue
		}
		for _, o := range s.Outcomes {
			if o.Outcome.Name == outcome {
				return o.Const
			}
		}
	}
	return ""
}

// GoIdent is one package-level identifier the generator emits, with what
// it is for and where its name comes from in the source.
type GoIdent struct {
	Name  string
	What  string // e.g. `handler interface of flow "Signup"`
	Range diag.Range
}

// Identifiers returns every package-level identifier generated for the
// flow, in a fixed order.
func (n *Names) Identifiers() []GoIdent {
	var out []GoIdent
	n.eachIdent(func(name string, o identOrigin) {
		out = append(out, GoIdent{Name: name, What: o.what(), Range: o.r})
	})
	return out
}

// identOrigin says what a generated identifier is for. It is formatted
// into words only when a message needs it: checkNames visits every
// identifier of every flow and must stay cheap.
type identOrigin struct {
	kind                string // "handler interface", ..., "step constant", "outcome type", "outcome constant"
	flow, step, outcome string
	service             string // a port's service
	r                   diag.Range
}

func (o identOrigin) what() string {
	switch o.kind {
	case "step constant", "outcome type":
		return diag.Sprintf("%s of step %q in flow %q", o.kind, o.step, o.flow)
	case "outcome constant":
		return diag.Sprintf("outcome constant of %q in step %q of flow %q", o.outcome, o.step, o.flow)
	case "service port", "service port adapter":
		return diag.Sprintf("%s of service %q in flow %q", o.kind, o.service, o.flow)
	default:
		return diag.Sprintf("%s of flow %q", o.kind, o.flow)
	}
}

// eachIdent calls fn for every package-level identifier of the flow, in
// the order of Identifiers.
func (n *Names) eachIdent(fn func(name string, o identOrigin)) {
	f := n.Flow
	flowIdent := func(name, kind string) { fn(name, identOrigin{kind: kind, flow: f.Name, r: f.NameRange}) }
	flowIdent(n.Handlers, "handler interface")
	flowIdent(n.Type, "definition type")
	flowIdent(n.Constructor, "constructor")
	flowIdent(n.Run, "run type")
	if t := n.Temporal; t != nil {
		flowIdent(t.Type, "Temporal definition type")
		flowIdent(t.Constructor, "Temporal constructor")
		flowIdent(t.Starter, "Temporal starter")
		flowIdent(t.Run, "Temporal run type")
	}
	for _, name := range n.StepFuncs {
		flowIdent(name, "step builder function")
	}
	if n.Services != "" {
		flowIdent(n.Services, "services type")
		flowIdent(n.ServicesFromCaller, "services adapter")
	}
	for _, p := range n.Ports {
		fn(p.Interface, identOrigin{kind: "service port", flow: f.Name, service: p.Service, r: p.Range})
		fn(p.Adapter, identOrigin{kind: "service port adapter", flow: f.Name, service: p.Service, r: p.Range})
	}
	for _, s := range n.Steps {
		fn(s.Const, identOrigin{kind: "step constant", flow: f.Name, step: s.Step.Name, r: s.Step.NameRange})
		if s.OutcomeType != "" {
			fn(s.OutcomeType, identOrigin{kind: "outcome type", flow: f.Name, step: s.Step.Name, r: s.Step.NameRange})
		}
		for _, o := range s.Outcomes {
			fn(o.Const, identOrigin{kind: "outcome constant", flow: f.Name, step: s.Step.Name, outcome: o.Outcome.Name, r: o.Outcome.Range})
		}
	}
}

// CamelCase turns an outcome name into the exported form used in Go
// identifiers: "approved" -> "Approved", "needs_review" -> "NeedsReview".
// The rule is ident.CamelCase, shared with service ports.
func CamelCase(s string) string { return ident.CamelCase(s) }

func isBuiltinOutcome(name string) bool {
	return name == OutcomeOK || name == OutcomeError || name == OutcomeTimeout
}

// checkExportedName reports a flow, step or rollback name that cannot be
// an exported Go identifier. kind is "flow", "step" or "rollback"; why says
// what the name becomes in Go.
func checkExportedName(kind, name string, r diag.Range, why string) (diag.Diagnostic, bool) {
	switch {
	case name == "":
		return diag.Errorf(r, "name", "%s has no name", kind).WithHint("give the %s a name starting with an upper-case letter", kind), true
	case !ident.IsGo(name):
		return diag.Errorf(r, "name", "%s name %q is not a valid Go identifier", kind, name).
			WithHint("use letters, digits and underscores, starting with an upper-case letter"), true
	case token.IsKeyword(name):
		return diag.Errorf(r, "name", "%s name %q is a Go keyword", kind, name).
			WithHint("rename it, for example to %q", ident.Exported(name)), true
	case !token.IsExported(name):
		d := diag.Errorf(r, "name", "%s name %q must start with an upper-case letter: %s", kind, name, why)
		if s := ident.Exported(name); s != "" {
			d = d.WithHint("rename it to %q", s)
		} else {
			d = d.WithHint("start the name with an upper-case letter")
		}
		return d, true
	}
	return diag.Diagnostic{}, false
}

// checkNames reports invalid names and collisions among the Go
// identifiers generated for target (see the comment at the top of this
// file).
func checkNames(file *File, target string) diag.List {
	var ds diag.List
	seen := map[string]identOrigin{}
	claim := func(name string, o identOrigin) {
		prev, ok := seen[name]
		if !ok {
			seen[name] = o
			return
		}
		if prev.kind == o.kind && prev.flow == o.flow && prev.step == o.step && prev.outcome == o.outcome && prev.service == o.service {
			return // a duplicate flow or step, reported as such by Check
		}
		ds = append(ds, collision(name, o, fmt.Sprintf("the %s (%s)", prev.what(), where(prev.r))))
	}
	for _, f := range file.Flows {
		if f == nil {
			continue
		}
		if d, bad := checkExportedName("flow", f.Name, f.NameRange, "it names exported Go types"); bad {
			ds = append(ds, d)
		}
		for _, s := range f.AllSteps() {
			if s == nil {
				continue
			}
			if d, bad := checkExportedName("step", s.Name, s.NameRange, "it names a Go constant and, for a Go step, a handler method"); bad {
				ds = append(ds, d)
			}
			if s.Rollback.IsGo() {
				if d, bad := checkExportedName("rollback", s.Rollback.Name.Name, s.Rollback.Name.Range, "it names a handler method"); bad {
					ds = append(ds, d)
				}
			}
			for _, o := range s.Outcomes {
				if o != nil && !ident.IsGo(o.Name) {
					ds = append(ds, diag.Errorf(o.Range, "name", "outcome name %q is not an identifier", o.Name).
						WithHint("use letters, digits and underscores, not starting with a digit"))
				}
			}
		}
		if f.Name == "" {
			continue // nothing sensible to generate; already reported
		}
		_, portDiags := f.ports()
		ds = append(ds, portDiags...)
		f.GoNamesFor(target).eachIdent(claim)
	}
	// State types live in the same package as the generated identifiers;
	// several flows may share one.
	states := map[string]bool{}
	for _, f := range file.Flows {
		if f == nil || f.State == nil || states[f.State.Name] {
			continue
		}
		st := f.State
		states[st.Name] = true
		if d, bad := StateTypeProblem(f); bad {
			ds = append(ds, d)
			continue
		}
		if prev, ok := seen[st.Name]; ok {
			ds = append(ds, diag.Errorf(st.Range, "name-collision", "state type %q collides with the generated %s (%s)", st.Name, prev.what(), where(prev.r)).
				WithHint("rename the state type or the flow/step"))
		}
	}
	return ds
}

// collision is the error of the generated name of o that another
// generated name, or a declaration of the package, already is: with says
// which and where.
func collision(name string, o identOrigin, with string) diag.Diagnostic {
	return diag.Errorf(o.r, "name-collision", "generated Go name %q for the %s collides with %s", name, o.what(), with).
		WithHint("rename one of them so that the generated names differ")
}

// checkPackageNames reports the generated names of the file's flows that
// the flows of the Go package's other generated .flow files
// (CheckOptions.GeneratedFlows) generate too: the generated files of one
// package compile together. A flow declared in both files is one
// "duplicate-flow" error rather than one per name. Collisions among the
// other files' own flows are theirs to report. The other files' names are
// taken to be those of target too: nothing records the target a
// generated file was made for.
func checkPackageNames(file *File, generated []*Flow, target string) diag.List {
	others := map[string]identOrigin{}
	otherFlows := map[string]*Flow{}
	for _, pf := range generated {
		if pf == nil || pf.Name == "" {
			continue
		}
		if _, ok := otherFlows[pf.Name]; !ok {
			otherFlows[pf.Name] = pf
		}
		pf.GoNamesFor(target).eachIdent(func(name string, o identOrigin) {
			if _, ok := others[name]; !ok {
				others[name] = o
			}
		})
	}
	var ds diag.List
	for _, f := range file.Flows {
		if f == nil || f.Name == "" {
			continue
		}
		if pf, ok := otherFlows[f.Name]; ok {
			ds = append(ds, diag.Errorf(f.NameRange, "duplicate-flow", "flow %q is also declared in %s: the flows of one Go package share their generated names", f.Name, pf.NameRange.Start).
				WithHint("rename one of the flows"))
			continue
		}
		f.GoNamesFor(target).eachIdent(func(name string, o identOrigin) {
			if prev, ok := others[name]; ok {
				ds = append(ds, collision(name, o, fmt.Sprintf("the %s (%s)", prev.what(), prev.r.Start)))
			}
		})
	}
	return ds
}

// DeclaredNameCollisions reports each name generated for target from the
// file's flows that the Go package the file is generated into already
// declares at package level, in its own (not generated) files: the
// generated file would not compile. declared says whether the package
// declares name, and if so, what and where, as "the type SignupFlow
// declared at state.go:5:6". dsl/gocheck calls it with the loaded package.
func (file *File) DeclaredNameCollisions(target string, declared func(name string) (string, bool)) diag.List {
	var ds diag.List
	for _, f := range file.Flows {
		if f == nil || f.Name == "" {
			continue
		}
		f.GoNamesFor(target).eachIdent(func(name string, o identOrigin) {
			if decl, ok := declared(name); ok {
				ds = append(ds, collision(name, o, decl))
			}
		})
	}
	return ds
}

// whereFrom is where, with the column when prev is on the same line as
// the diagnostic at cur (two names on one line).
func whereFrom(prev, cur diag.Range) string {
	p, c := prev.Start, cur.Start
	if p.Line > 0 && p.Line == c.Line && p.File == c.File {
		return fmt.Sprintf("line %d, column %d", p.Line, p.Column)
	}
	return where(prev)
}

// where describes a source position for "first declared at ..." messages:
// "line 12" for .flow input, the JSON path for .json input.
func where(r diag.Range) string {
	p := r.Start
	switch {
	case p.Line > 0:
		return fmt.Sprintf("line %d", p.Line)
	case p.Path != "":
		return p.Path
	default:
		return "unknown position"
	}
}

// StepsPerFunc is how many steps (a block's branches included) one
// generated function builds at most. The Go compiler's time grows faster
// than linearly in a function's size: a 2,000-step flow built in one
// constructor took 26–31 s to compile, in functions of 25 to 200 steps
// 8–11 s (docs/benchmarks.md). Flows of up to this many steps keep
// everything in the constructor, where it reads as the flow does.
const StepsPerFunc = 64

// StepGroups splits f's top-level steps, in order, into the groups that
// one generated function builds each: a group holds at most StepsPerFunc
// steps, counting a block's branches, unless one block alone has more. A
// flow that fits is one group.
func (f *Flow) StepGroups() [][]*Step {
	var groups [][]*Step
	var cur []*Step
	size := 0
	for _, s := range f.Steps {
		if s == nil {
			continue
		}
		n := 1 + len(s.Branches())
		if size > 0 && size+n > StepsPerFunc {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, s)
		size += n
	}
	if len(cur) > 0 || len(groups) == 0 {
		groups = append(groups, cur)
	}
	return groups
}

// StateTypeProblem returns what makes the name of f's state type one that
// generated code cannot declare its functions over, as Check reports it
// (code name, at the name), and whether anything does: it is a Go
// identifier, not a keyword and not predeclared (int, error, ...). It is
// the one home of the rule: Check reports it, and gen.Generate refuses a
// model, checked or not, with it. f.State must not be nil.
func StateTypeProblem(f *Flow) (diag.Diagnostic, bool) {
	st := f.State
	switch {
	case !ident.IsGo(st.Name):
		return diag.Errorf(st.Range, "name", "state type %q is not a Go identifier", st.Name).
			WithHint("name a struct type declared in the package, such as %sState", f.Name), true
	case token.IsKeyword(st.Name):
		return diag.Errorf(st.Range, "name", "state type %q is a Go keyword", st.Name).
			WithHint("name a struct type declared in the package, such as %sState", f.Name), true
	case types.Universe.Lookup(st.Name) != nil:
		return diag.Errorf(st.Range, "name", "state type %q is a predeclared Go identifier, not a struct type of the package", st.Name).
			WithHint("declare a struct type, such as %sState, and name it here", f.Name), true
	}
	return diag.Diagnostic{}, false
}

// GeneratedPredeclared are the predeclared Go identifiers that the code
// generated for either target names itself (error, nil, ...), besides
// those the state's field types bring: a package that declares one at
// package level hides Go's from the generated file, which then does not
// compile; dsl/gocheck reports such a declaration. Every flow's code
// names most of them, any and true only some flows' (in the corpus, 54
// and 92 of 94 generated files), but a package that hides one is reported
// whatever its flows, as the next flow written there may need it. gen's
// TestEveryCorpusFlow keeps the list holding every one the generator
// writes.
var GeneratedPredeclared = []string{"any", "append", "bool", "byte", "error", "make", "nil", "string", "true"}

// FieldNameProblem returns what makes id, a state field a flow names or a
// member a choose condition reads (Customer.Tier), a name no field of a Go
// struct can have, and whether anything does: a Go keyword (`when func ==
// 1`, `sleep until range`), or, in JSON input, a name that is not a Go
// identifier. what names it in the message ("state field", "member").
// It is the one home of the rule, which gen enforces with this
// diagnostic, at the name: with the Go package loaded, the Go package
// checks report such a name first (the state type has no such field);
// without it (-nopkg) the generated s.func would not compile. Check does
// not report it: a JSON flow that the engine runs reads JSON members,
// which may be named so ("type").
func FieldNameProblem(id *Ident, what string) (diag.Diagnostic, bool) {
	switch {
	case id == nil:
	case !ident.IsGo(id.Name):
		return diag.Errorf(id.Range, "name", "%s %q is not a Go identifier, so no Go struct has a field of that name", what, id.Name).
			WithHint("name a Go field: letters, digits and underscores, not starting with a digit"), true
	case token.IsKeyword(id.Name):
		return diag.Errorf(id.Range, "name", "%s %q is a Go keyword, so no Go struct has a field of that name", what, id.Name).
			WithHint("name a Go field, such as %q", ident.Exported(id.Name)), true
	}
	return diag.Diagnostic{}, false
}
