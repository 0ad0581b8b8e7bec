package dsl

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/runtime"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// StrictRollback turns the "no-rollback" warning into an error.
	StrictRollback bool
	// GoPackage, if set, runs after the model's own checks and adds its
	// findings: the checks of the state type and the fields against the
	// Go package the file belongs to. The command sets it to dsl/gocheck's
	// Check for the file's directory; loading a package runs the go
	// command and takes about a second. dsl itself loads no Go code.
	GoPackage func(*File) diag.List
	// CallsByName lets a call name a flow the file does not declare: the
	// file is one flow of a set whose calls are resolved by name when they
	// run (an engine's pinned definition, engine.CompileJSON). The checks
	// that need the callee (its state) are then the set's, made when it
	// was loaded.
	CallsByName bool
	// PackageFlows returns the flows of the other .flow files of the Go
	// package the file belongs to (the command reads them). Check calls it
	// once, and only when a call names a flow the file does not declare,
	// and keeps them in File.Package, where the call's checks, gen and the
	// Go package checks find its callee: a call runs a flow of the same
	// package, whichever file declares it.
	PackageFlows func() []*Flow
	// GeneratedFlows returns the flows of the other .flow files whose Go
	// code is generated into the file's Go package (the command's: those
	// with a generated file there, and its other inputs). The generated
	// files compile together, so their generated names must differ from
	// the file's (checkPackageNames). nil skips the check: an engine's
	// flows generate no Go code.
	GeneratedFlows func() []*Flow
	// Target is the target the file's Go code is generated for
	// (TargetRuntime, "" too, or TargetTemporal): the generated names
	// checked for collisions are that target's (GoNamesFor).
	Target string
	// PackageScope says what PackageFlows's flows are, in the diagnostic
	// of a call to a flow neither the file nor they declare. The zero value
	// says the file's Go package (the command's); an engine says its
	// registered flows.
	PackageScope CallScope
}

// CallScope describes, for diagnostics, the flows a file's calls may run
// besides its own.
type CallScope struct {
	// Where ends "step S calls flow F, which neither this file nor ...
	// declares".
	Where string
	// Hint is the diagnostic's hint; %s is the flow called.
	Hint string
	// Unparsed names the package's files that PackageFlows left out
	// because they have syntax errors (code "syntax"), if any. One of them may declare the flow
	// a call names, so the diagnostic of a call to a flow nothing declares
	// names them rather than saying the package lacks it. Called only then.
	Unparsed func() []string
}

// Check runs every semantic check on f and returns all findings, unsorted
// (callers normalise). It never panics on a model from flowfile.Build or
// DecodeJSON, whatever the input was. The codes are documented in
// docs/checks.md.
func Check(f *File, opts CheckOptions) diag.List {
	if f == nil {
		return nil
	}
	c := &checker{opts: opts, suggestBudget: maxSuggestComparisons}
	c.ds = append(c.ds, checkNameLimits(f)...)
	c.ds = append(c.ds, checkReservedTopics(f)...)
	c.ds = append(c.ds, checkNames(f, opts.Target)...)
	flows := map[string]*Flow{}
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		if prev, ok := flows[fl.Name]; ok && fl.Name != "" {
			c.duplicate("duplicate-flow", prev.NameRange, fl.NameRange, "rename one of the flows", "duplicate flow %q (first declared at %s)", fl.Name)
		} else {
			flows[fl.Name] = fl
		}
		c.flow(fl)
	}
	if len(f.Flows) == 0 {
		c.noFlow(f)
	}
	c.rpcEndpoints(f)
	if opts.PackageFlows != nil && f.Package == nil && f.callsOutside(flows) {
		f.Package = opts.PackageFlows()
	}
	if opts.GeneratedFlows != nil {
		c.ds = append(c.ds, checkPackageNames(f, opts.GeneratedFlows(), opts.Target)...)
	}
	for _, pf := range f.Package { // the file's own flows first; then the first of a name
		if _, ok := flows[pf.Name]; pf != nil && !ok {
			flows[pf.Name] = pf
		}
	}
	c.calls(f, flows)
	if opts.GoPackage != nil {
		c.ds = append(c.ds, opts.GoPackage(f)...)
	}
	return c.ds
}

type checker struct {
	opts CheckOptions
	ds   diag.List
	// undefinedTargets is set when the current flow has a transition to
	// an undefined step.
	undefinedTargets bool
	// flowBudgetReported is set once the flow's own retry schedule has
	// been reported as too long for its deadline.
	flowBudgetReported bool
	// memo holds the current flow's did-you-mean answers for undefined
	// targets, and suggestBudget bounds the candidates compared over the
	// whole Check: a file with thousands of undefined names would
	// otherwise cost steps × names comparisons, and nobody reads past
	// the first ten diagnostics.
	memo          map[string]string
	suggestBudget int
	// branchOf maps the current flow's branch names to their parallel
	// blocks (checkparallel.go).
	branchOf map[string]*Step
}

// maxSuggestComparisons is the did-you-mean budget of one Check call.
const maxSuggestComparisons = 1 << 20

// suggest is diag.DidYouMean bounded by the budget; with memo, the answer is
// kept for the rest of the flow (the candidates are the flow's targets).
func (c *checker) suggest(name string, candidates func() []string, memo bool) string {
	if m, ok := c.memo[name]; ok && memo {
		return m
	}
	cands := candidates()
	if c.suggestBudget < len(cands) {
		return ""
	}
	c.suggestBudget -= len(cands)
	m := diag.DidYouMean(name, cands)
	if memo {
		c.memo[name] = m
	}
	return m
}

func (c *checker) add(d diag.Diagnostic) { c.ds = append(c.ds, d) }

// noFlow reports a file that declares no flow (empty, or only comments):
// it checked clean and gen wrote a Go file with nothing in it, hiding a
// file saved empty or the wrong file given. At the file's start: there is
// nothing else to point at.
func (c *checker) noFlow(f *File) {
	at, hint := f.Range, `add one to "flows", such as {"name": "Name", "steps": [...]}`
	if at.Start.Path == "" { // a .flow file: its first line
		at = diag.Range{Start: diag.Pos{File: f.Name, Line: 1, Column: 1}}
		at.End = at.Start
		hint = "declare one, such as `flow Name { step DoSomething { rpc service \"Service.Method\" } }`"
	}
	c.add(diag.Errorf(at, "no-flow", "no flow declared in %s", f.Name).WithHint("%s", hint))
}

// duplicate reports a name or statement written twice, a and b its two
// occurrences in either order: at the later one in the source, naming
// where the earlier one is, whichever of them the check met first. Every
// duplicate code follows this one rule. format is the message, its last
// verb the earlier one's position; hint is the hint, as it is.
func (c *checker) duplicate(code string, a, b diag.Range, hint, format string, args ...any) {
	first, again := a, b
	if q := again.Start; q.Line > 0 && first.Start.Compare(q) > 0 {
		first, again = again, first
	}
	c.add(diag.Errorf(again, code, format, append(args, whereFrom(first, again))...).WithHint("%s", hint))
}

// pick returns the first valid range, so that a diagnostic about something
// without a range of its own (a default, a JSON value without a path) still
// points somewhere useful.
func pick(rs ...diag.Range) diag.Range {
	for _, r := range rs {
		if r.Start.IsValid() {
			return r
		}
	}
	if len(rs) > 0 {
		return rs[len(rs)-1]
	}
	return diag.Range{}
}

func (c *checker) flow(f *Flow) {
	c.undefinedTargets = false
	c.flowBudgetReported = false
	if len(f.Steps) == 0 {
		c.add(diag.Errorf(pick(f.NameRange, f.Range), "empty-flow", "flow %q has no steps", f.Name).
			WithHint("add a step, such as `step DoSomething { rpc service \"Service.Method\" }`"))
	}
	c.triggers(f)
	if f.Retry != nil {
		c.retry(f.Retry, diag.Sprintf("flow %q", f.Name), pick(f.Retry.Range, f.NameRange))
	}
	c.idleRetries(f)
	if refs := f.FieldRefs(); f.State == nil && len(refs) > 0 {
		r := refs[0]
		c.add(diag.Errorf(pick(r.Field.Range, r.Step.NameRange), "no-state", "flow %q names state field %q but declares no state type", f.Name, r.Field.Name).
			WithHint("add `state %sState` to the flow, naming a struct type of the Go package that has the field", diag.Cut(f.Name)))
	}

	// Index the steps once: every lookup below is a map access, so the
	// whole check is linear in the size of the flow. Did-you-mean scans all
	// names, but only for a name that is already wrong.
	index := f.firstIndexes()
	c.stepNames(f)
	var targetNames []string
	targets := func() []string {
		if targetNames == nil {
			targetNames = make([]string, 0, len(f.Steps)+2)
			for _, s := range f.Steps {
				if s != nil {
					targetNames = append(targetNames, s.Name)
				}
			}
			targetNames = append(targetNames, TargetDone, TargetFail)
		}
		return targetNames
	}
	c.memo = map[string]string{}
	c.branchNames(f, index)
	for i, s := range f.Steps {
		if s == nil {
			continue
		}
		c.step(f, i, s, index, targets)
		c.parallelStep(f, s, index, targets)
	}
	if !c.undefinedTargets {
		c.loops(f)
	}
	// An undefined target usually is a typo of the step that now looks
	// unreachable: report the cause, not its consequences.
	if len(f.Steps) > 0 && f.Steps[0] != nil && !c.undefinedTargets {
		for _, s := range f.Unreachable() {
			if f.Steps[index[s.Name]] != s {
				continue // a duplicate, already reported
			}
			c.add(diag.Warnf(pick(s.NameRange, s.Range), "unreachable", "%s %q is unreachable: no path from the first step %q leads to it", stepNoun(s), s.Name, f.Steps[0].Name).
				WithHint("add a transition to it, such as `on ok -> %s` in an earlier step, or remove it", diag.Cut(s.Name)))
		}
	}
}

// stepNames reports each step declared with the name of an earlier one
// of f: step names are unique within a flow, the branches of its parallel
// blocks included (they are one namespace, as the runtime's IDs and the
// handler methods are).
func (c *checker) stepNames(f *Flow) {
	first := map[string]*Step{}
	branch := map[*Step]bool{}
	for _, s := range f.AllSteps() {
		for _, b := range s.Branches() {
			branch[b] = true
		}
		prev, dup := first[s.Name]
		if !dup {
			first[s.Name] = s
			continue
		}
		hint := "rename one of the steps; step names are unique within a flow"
		switch {
		case s.IsBlock() || prev.IsBlock():
			// "duplicate step" names a line that declares a block.
			hint = "rename one of them; a parallel block's name is a step name of the flow (steps route to the block by it), unique among its steps and branches"
		case branch[s] || branch[prev]:
			hint += ", branches of parallel blocks included"
		}
		c.duplicate("duplicate-step", pick(prev.NameRange, prev.Range), pick(s.NameRange, s.Range), hint, "duplicate step %q (first declared at %s)", s.Name)
	}
}

func (c *checker) step(f *Flow, i int, s *Step, index map[string]int, targets func() []string) {
	what := diag.Sprintf("step %q", s.Name)
	at := pick(s.NameRange, s.Range)
	c.action(s.Action, what, pick(actionRange(s.Action), at))
	if s.Retry != nil {
		c.retry(s.Retry, what, pick(s.Retry.Range, at))
	}
	c.zeroPolicy(f, s)

	// Rollback.
	if s.Rollback != nil {
		rr := pick(s.Rollback.Range, at)
		if s.Irreversible {
			c.add(diag.Errorf(rr, "irreversible-rollback", "step %q is marked irreversible but has a rollback", s.Name).
				WithHint("remove `irreversible` if the rollback undoes the step, or remove the rollback"))
		}
		if s.Rollback.IsGo() {
			name := s.Rollback.Name
			if j, ok := index[name.Name]; ok {
				c.add(diag.Errorf(pick(name.Range, rr), "rollback-name", "rollback %q has the same name as step %q (%s)", name.Name, name.Name, where(f.Steps[j].NameRange)).
					WithHint("a Go rollback is a handler method of its own; rename it, for example to %q", "Undo"+s.Name))
			}
		}
		if s.Rollback.Action != nil {
			c.action(s.Rollback.Action, "rollback of "+what, pick(s.Rollback.Action.Range, rr))
		}
	} else if s.HasSideEffects() && !s.Irreversible {
		d := diag.Warnf(at, "no-rollback", "step %q has side effects (%s) but neither a rollback nor `irreversible`", s.Name, sideEffects(s))
		if c.opts.StrictRollback {
			d.Severity = diag.Error
		}
		undo := "`rollback <Method>` or `rollback rpc ...`"
		if s.Action != nil && s.Action.Kind == ActionCall {
			// The child's steps are undone by a flow, as they were done.
			undo = "`rollback call <Flow> (<Field>)` (a flow that undoes the child's work), `rollback <Method>` or `rollback rpc ...`"
		}
		c.add(d.WithHint("add %s to undo it when a later step fails, or mark it `irreversible`", undo))
	}
	for _, p := range s.Publish {
		if p != nil {
			c.nonEmpty(p.Topic, "topic", "publication of "+what, pick(p.Range, at))
			c.nonEmpty(p.Event, "event", "publication of "+what, pick(p.Range, at))
		}
	}

	// A step that waits for what its kind bounds with a timeout (an
	// await). A sleep has no timeout of its own, and its step's retry
	// retries what runs after the wake-up (its publications), never the
	// sleep: see sleep.
	if spec := s.Spec(); spec.Waits && spec.Has(FieldTimeout) {
		ar := pick(s.Action.Range, at)
		kw := spec.Keyword
		// The step's deadline bounds the wait too (runtime.Wait.Deadline:
		// the earlier of the two), so only a wait with neither is unbounded.
		if f.TimeoutFor(s) == 0 && f.DeadlineFor(s) == 0 {
			c.add(diag.Errorf(ar, "await-no-timeout", "%s in step %q has no timeout: a run could wait forever", kw, s.Name).
				WithHint("add `timeout <duration>` to the %s line, such as `timeout 72h`, and handle it with `on timeout -> <Step>`", kw))
		}
		// The retry is also the policy of the step's rollback
		// (RollbackRetryFor), and retries the step's publications: with
		// either, it is not idle (as a sleep's, sleep-retry, and a
		// call's, call-policy).
		if r := f.RetryFor(s); r.Attempts > 1 && s.Rollback == nil && len(s.Publish) == 0 {
			c.add(diag.Warnf(pick(r.Range, ar), "await-retry", "%s in step %q has retry %d, which never retries the wait: it retries only what runs after the event came (publications) and the rollback, and the step has neither", kw, s.Name, r.Attempts).
				WithHint("remove the retry; to wait longer, lengthen the %s's timeout", kw))
		}
	}
	if s.Spec().Has(FieldCorrelateOn) {
		c.correlationPath(s, pick(s.Action.Range, at))
	}
	if s.Kind() == ActionSleep {
		c.sleep(f, s, at)
	}
	if s.Kind() == ActionCall {
		c.call(f, s, at)
	}
	if s.Spec().Decides {
		// A choose's targets are its only transitions: choose checks them,
		// and reports anything else the step says.
		c.choose(f, s, at, index, targets)
		return
	}

	c.budget(f, s, at)

	// Declared outcomes.
	declared := map[string]*Ident{}
	for k, o := range s.Outcomes {
		if o == nil {
			continue
		}
		or := pick(o.Range, at)
		if k == 0 && !s.IsGo() {
			hint := fmt.Sprintf("remove `outcomes`; %s step ends with %s", s.Spec().Noun, diag.OrList(f.builtinOutcomes(s)))
			if s.Action != nil && s.Action.Kind == ActionPublish {
				// Most likely a Go step given a publish line: its first
				// publish became the step's action (the publish-step rule).
				hint = "a step whose only action is `publish` publishes and does nothing else, so a Go step cannot publish: keep the Go step with its outcomes and publish in a step after it, or remove `outcomes`"
			}
			c.add(diag.Errorf(or, "outcomes-not-go", "%s step %q declares outcomes, but only a Go step can return them", s.Kind(), s.Name).
				WithHint("%s", hint))
		}
		switch prev, dup := declared[o.Name]; {
		case isBuiltinOutcome(o.Name):
			c.add(diag.Errorf(or, "duplicate-outcome", "outcome %q is built in; do not declare it", o.Name).
				WithHint("every step can end with ok and error, and with timeout when it has one"))
		case o.Name == string(runtime.OutcomeRetry):
			// The runtime's home of the name: Register refuses a step that
			// routes it, so the generated constructor would fail.
			c.add(diag.Errorf(or, "duplicate-outcome", "outcome %q is reserved: the runtime records a retried attempt with it", o.Name).
				WithHint(`name the outcome otherwise, for example "again"`))
		case dup:
			c.duplicate("duplicate-outcome", prev.Range, or, "remove the repeated outcome", "duplicate outcome %q in step %q (first declared at %s)", o.Name, s.Name)
		default:
			declared[o.Name] = o
		}
	}

	// Transitions.
	outcomes := f.Outcomes(s)
	canEnd := make(map[string]bool, len(outcomes))
	for _, o := range outcomes {
		canEnd[o] = true
	}
	written := map[string]*Transition{}
	for _, t := range s.Transitions {
		if t == nil || t.On == nil || t.Target == nil {
			continue
		}
		tr := pick(t.Range, at)
		onr := pick(t.On.Range, tr)
		if prev, dup := written[t.On.Name]; dup {
			// A block's own lines: the message names it as a block, as
			// a branch's lines name the branch (branch-route).
			c.duplicate("duplicate-transition", pick(prev.Range, prev.On.Range), onr, fmt.Sprintf("keep one `on %s -> ...`; the first one wins", t.On.Name),
				"duplicate transition for outcome %q in %s %q (first at %s)", t.On.Name, stepNoun(s), s.Name)
			continue
		}
		written[t.On.Name] = t
		if !canEnd[t.On.Name] {
			c.add(c.undefinedOutcome(f, s, t.On.Name, onr, outcomes))
		}
		target := t.Target.Name
		if _, ok := index[target]; !ok && target != TargetDone && target != TargetFail && !c.intoBranch(s, t.Target, pick(t.Target.Range, tr)) {
			c.undefinedTargets = true
			d := diag.Errorf(pick(t.Target.Range, tr), "undefined-target", "transition to undefined step %q in %s %q", target, stepNoun(s), s.Name)
			if m := c.suggest(target, targets, true); m != "" {
				d = d.WithHint("did you mean %q?", m)
			} else {
				d = d.WithHint("a target is a step of flow %q, done or fail", f.Name)
			}
			c.add(d)
		}
	}
}

func (c *checker) undefinedOutcome(f *Flow, s *Step, name string, r diag.Range, outcomes []string) diag.Diagnostic {
	if s.IsBlock() {
		return c.blockOutcome(s, name, r, outcomes)
	}
	if name == OutcomeTimeout && s.Kind() == ActionCall {
		return diag.Errorf(r, "undefined-outcome", "step %q calls flow %s, so it cannot end with outcome %q: a call ends when its child run does", s.Name, calleeName(s.Action), name).
			WithHint("route the child's failure with `on error -> X`, and bound the steps of flow %s", calleeName(s.Action))
	}
	if spec := s.Spec(); name == OutcomeTimeout && spec.Waits && !spec.Has(FieldTimeout) {
		return diag.Errorf(r, "undefined-outcome", "step %q has no deadline, so it cannot end with outcome %q", s.Name, name).
			WithHint("add `deadline <duration>` to the step to bound its %s (the step ends with the outcome timeout when it passes), or remove this transition", spec.Keyword)
	}
	if name == OutcomeError && !s.CanFail() {
		return diag.Errorf(r, "undefined-outcome", "step %q is %s with nothing that can fail, so it cannot end with outcome %q: its outcomes are %s", s.Name, s.Spec().Noun, name, strings.Join(outcomes, ", ")).
			WithHint("remove this transition; an abort or the run's history bound does not take it, but rolls the run back")
	}
	if name == OutcomeTimeout {
		return diag.Errorf(r, "undefined-outcome", "step %q has no timeout or deadline, so it cannot end with outcome %q", s.Name, name).
			WithHint("add `timeout <duration>` or `deadline <duration>` to the step (or to the flow), or remove this transition")
	}
	d := diag.Errorf(r, "undefined-outcome", "step %q cannot end with outcome %q: its outcomes are %s", s.Name, name, strings.Join(outcomes, ", "))
	if m := c.suggest(name, func() []string { return outcomes }, false); m != "" {
		return d.WithHint("did you mean %q?", m)
	}
	if s.IsGo() {
		return d.WithHint("declare it with `outcomes %s`", name)
	}
	return d.WithHint("only Go steps can declare outcomes of their own")
}

func actionRange(a *Action) diag.Range {
	if a == nil {
		return diag.Range{}
	}
	return a.Range
}

// sideEffects says what the side effects of s are: its kind's (when the
// kind has them: KindSpec.Noun), and its publications after success,
// unless the kind itself publishes (a publish step with more publish
// lines).
func sideEffects(s *Step) string {
	var what []string
	spec := s.Spec()
	if spec.SideEffects {
		what = append(what, spec.Noun)
	}
	if !spec.Needs.Has(NeedPublisher) && len(s.Publish) > 0 {
		what = append(what, "a publication")
	}
	return strings.Join(what, " and ")
}

// action checks the strings of an action that flowfile.Build cannot
// reject: an empty string literal names nothing, so a required string
// field of the kind (KindSpec.Fields) must not be empty, nor a required
// name that only JSON can leave empty (a call's "flow": "").
func (c *checker) action(a *Action, what string, r diag.Range) {
	if a == nil {
		return
	}
	for _, f := range a.Spec().RequiredStrings() {
		c.nonEmpty(a.StringField(f), string(f), what, r)
	}
	for _, kf := range a.Spec().Fields {
		if id := a.IdentField(kf.Field); kf.Required && id != nil {
			c.nonEmpty(id.Name, string(kf.Field), what, pick(id.Range, r))
		}
	}
}

func (c *checker) nonEmpty(v, field, what string, r diag.Range) {
	if strings.TrimSpace(v) == "" {
		c.empty(field, what, r)
	}
}

func (c *checker) empty(field, what string, r diag.Range) {
	c.add(diag.Errorf(r, "empty", "empty %s in %s", field, what).WithHint("name the %s", field))
}

// sleep checks a sleep step: it waits a duration above zero or until a
// state field, not both (SleepProblem); a `timeout` has no attempt to bound; and a deadline no longer than a
// fixed sleep always ends the step with the outcome timeout.
func (c *checker) sleep(f *Flow, s *Step, at diag.Range) {
	a := s.Action
	if d, bad := SleepProblem(s.Name, a, at); bad {
		c.add(d)
	}
	if s.Timeout > 0 {
		c.add(diag.Errorf(pick(s.TimeoutRange, at), "sleep-timeout", "step %q sleeps, so its `timeout %s` has no attempt to bound", s.Name, s.Timeout).
			WithHint("bound the sleep with `deadline %s` instead: the step ends with the outcome timeout when it passes", s.Timeout))
	}
	// A sleep is never retried (the flow's retry does not apply to it):
	// its own retry is that of its publications, and of its rollback.
	if r := s.Retry; r != nil && r.Attempts > 1 && len(s.Publish) == 0 && s.Rollback == nil {
		c.add(diag.Warnf(pick(r.Range, at), "sleep-retry", "step %q sleeps and publishes nothing, so its retry %d has nothing to retry: a sleep is never retried", s.Name, r.Attempts).
			WithHint("remove the retry; to wait longer, sleep longer"))
	}
	if d := f.DeadlineFor(s); d > 0 && a.Until == nil && a.Duration > 0 && d <= a.Duration.std() {
		c.add(diag.Warnf(pick(s.DeadlineRange, at), "sleep-deadline", "step %q sleeps %s, but its deadline is %s: it always ends with the outcome timeout", s.Name, a.Duration, FormatDuration(d)).
			WithHint("raise the deadline above %s, or remove it", a.Duration))
	}
}

// SleepProblem returns what is wrong with what sleep action a of step
// step waits for, as Check reports it (code sleep, at a's range or else
// at), and whether anything is: a sleep waits a duration above zero or
// until a named state field, not both (the JSON form and a model built in
// Go can say either, or neither). It is the one home of the rule: Check
// reports it, and gen.Generate refuses a model, checked or not, with it.
func SleepProblem(step string, a *Action, at diag.Range) (diag.Diagnostic, bool) {
	ar := pick(a.Range, at)
	switch {
	case a.Until != nil && a.Duration > 0:
		return diag.Errorf(ar, "sleep", "sleep in step %q has both a duration and an until field", step).
			WithHint("keep one: \"duration\" to wait a fixed time, \"until\" to wait until the time in a state field"), true
	case a.Until != nil && strings.TrimSpace(a.Until.Name) == "":
		return diag.Errorf(pick(a.Until.Range, ar), "sleep", "sleep in step %q waits until an empty field name", step).
			WithHint("name the state field, a time.Time, that holds when the run wakes"), true
	case a.Until == nil && a.Duration <= 0:
		return diag.Errorf(pick(a.DurationRange, ar), "sleep", "sleep in step %q waits no time", step).
			WithHint("sleep a duration above zero, such as `sleep 336h`, or until a time.Time field of the state: `sleep until ReminderAt`"), true
	}
	return diag.Diagnostic{}, false
}

// correlationPath checks the payload path of a correlated await: a
// dot-separated list of JSON object members, each non-empty, with no white
// space. The .flow grammar only allows a path after a correlate field; the
// JSON form can have one alone.
func (c *checker) correlationPath(s *Step, ar diag.Range) {
	on := s.Action.CorrelateOn
	if on == nil {
		return
	}
	at := pick(on.Range, ar)
	if s.Action.Correlate == nil {
		c.add(diag.Errorf(at, "correlate-path", "await in step %q has a correlation path %q but no correlate field", s.Name, on.Name).
			WithHint("name the state field the path is compared with (\"correlate\" in JSON, `correlate Field on path` in .flow), or remove the path"))
		return
	}
	if why := CorrelationPathProblem(on.Name); why != "" {
		c.add(diag.Errorf(at, "correlate-path", "await in step %q correlates on %q, which is not a payload path: %s", s.Name, on.Name, why).
			WithHint("write the JSON object members from the top of the payload down, separated by dots, such as `on order_id` or `on \"payment.order_id\"`"))
	}
}

// CorrelationPathProblem says what is wrong with a correlation path, or "".
func CorrelationPathProblem(path string) string {
	switch {
	case path == "":
		return "it is empty"
	case !utf8.ValidString(path):
		return "it is not valid UTF-8"
	case strings.IndexFunc(path, unicode.IsSpace) >= 0:
		return "it contains white space"
	case strings.IndexFunc(path, unicode.IsControl) >= 0:
		return "it contains a control character"
	case strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, ".."):
		return "it has an empty member (a dot at either end, or two in a row)"
	}
	return ""
}

// retry checks one written retry policy; at is where it is, and each
// finding points at the part it is about when that part's range is known.
func (c *checker) retry(r *Retry, what string, at diag.Range) {
	if !ValidAttempts(r.Attempts) {
		c.add(diag.Errorf(pick(r.AttemptsRange, at), "retry-attempts", "retry of %s has %d attempts; it needs at least %d", what, r.Attempts, MinAttempts).
			WithHint("write `retry 1` for a single try, or more to retry"))
	}
	if r.Multiplier != 0 && !ValidMultiplier(r.Multiplier) {
		c.add(diag.Errorf(pick(r.MultiplierRange, at), "retry-multiplier", "retry of %s has multiplier %g; backoff must not shrink", what, r.Multiplier).
			WithHint("use a multiplier of %g (constant backoff) or more; the default is %g", MinMultiplier, DefaultMultiplier))
	}
	if r.Max > 0 && r.Initial > r.Max {
		c.add(diag.Errorf(pick(r.BackoffRange, at), "backoff-range", "backoff of %s starts at %v, above its maximum %v", what, r.Initial, r.Max).
			WithHint("write the range as `backoff %v..%v`", r.Max, r.Initial))
	}
	if r.Initial == 0 && r.Max > 0 {
		// Not an error: the retries just happen without delay.
		c.add(diag.Warnf(pick(r.BackoffRange, at), "backoff-range", "backoff of %s has a maximum %v but no initial delay, so retries do not wait", what, r.Max).
			WithHint("write `backoff <initial>..%v`", r.Max))
	}
	if r.Jitter != "" && r.Jitter != JitterFull && r.Jitter != JitterNone {
		c.add(diag.Errorf(pick(r.JitterRange, at), "retry-jitter", "retry of %s has unknown jitter %q", what, r.Jitter).
			WithHint("use `jitter full` (the default) or `jitter none`"))
	}
}

// idleRetries warns of the backoff, multiplier or jitter of a retry line
// that makes a single attempt, where they never apply (Flow.idleRetries):
// once, at the line that writes them, however many steps inherit it.
func (c *checker) idleRetries(f *Flow) {
	for _, l := range f.idleRetries() {
		parts := make([]string, len(l.Parts))
		for i, p := range l.Parts {
			parts[i] = string(p)
		}
		what, they, apply := diag.AndList(parts), "it", "applies"
		if len(parts) > 1 {
			they, apply = "they", "apply"
		}
		if l.Step == nil {
			c.add(diag.Warnf(pick(l.Retry.Range, f.NameRange), "retry-once",
				"retry of flow %q makes 1 attempt, and no step with a retry of its own takes its %s, so %s never %s", f.Name, what, they, apply).
				WithHint("remove the %s, or make more attempts, such as `retry 3`; a step's own `retry N` takes the flow's %s when it writes none", what, what))
			continue
		}
		s := l.Step
		c.add(diag.Warnf(pick(l.Retry.Range, s.NameRange, s.Range), "retry-once",
			"retry of step %q makes 1 attempt, so its %s never %s: nothing is retried", s.Name, what, apply).
			WithHint("remove the %s, or make more attempts, such as `retry 3`", what))
	}
}

// zeroPolicy warns of a step's `timeout 0s` or `deadline 0s` under a flow
// whose own the step inherits: a zero is as if the line were not written
// (the model's "not set"), so the step keeps the flow's, which is not what
// a line that says zero can mean.
func (c *checker) zeroPolicy(f *Flow, s *Step) {
	for _, p := range []struct {
		keyword  string
		own      Duration
		at       diag.Range
		resolved time.Duration
	}{
		{"timeout", s.Timeout, s.TimeoutRange, f.AttemptTimeoutFor(s)},
		{"deadline", s.Deadline, s.DeadlineRange, f.DeadlineFor(s)},
	} {
		if p.own != 0 || !p.at.Start.IsValid() || p.resolved <= 0 {
			continue
		}
		c.add(diag.Warnf(p.at, "zero-policy", "step %q's `%s 0s` is as if it were not written: the step keeps the flow's `%s %s`", s.Name, p.keyword, p.keyword, FormatDuration(p.resolved)).
			WithHint("a step cannot lift the flow's %s: remove the line, or give the step the %s it needs", p.keyword, p.keyword))
	}
}

// budget reports a retry schedule that cannot fit the step's deadline.
func (c *checker) budget(f *Flow, s *Step, at diag.Range) {
	deadline, timeout := f.DeadlineFor(s), f.TimeoutFor(s)
	if deadline <= 0 || timeout <= 0 {
		return
	}
	r := f.RetryFor(s)
	if spec := s.Spec(); spec.Waits && spec.Has(FieldTimeout) {
		c.waitBudget(s, spec.Keyword, r, timeout, deadline, at)
		return
	}
	worst := WorstCase(r, timeout)
	if worst <= deadline {
		return
	}
	rng := at
	subject := diag.Sprintf("step %q", s.Name)
	switch {
	case s.Retry != nil:
		rng = pick(s.Retry.Range, at)
	case s.Timeout == 0 && s.Deadline == 0 && !s.Spec().Waits:
		// The step only inherits the flow's policies, as many steps may:
		// report the flow's schedule once, where it is written.
		if c.flowBudgetReported {
			return
		}
		c.flowBudgetReported = true
		subject = diag.Sprintf("flow %q", f.Name)
		if f.Retry != nil {
			rng = pick(f.Retry.Range, f.NameRange, at)
		} else {
			rng = pick(f.NameRange, at)
		}
	}
	attempts := fmt.Sprintf("%d attempts", r.Attempts)
	if r.Attempts == 1 {
		attempts = "1 attempt"
	}
	if worst == maxDuration {
		c.add(diag.Errorf(rng, "retry-budget",
			"retry schedule of %s takes over 292 years in the worst case (%s × %s timeout + backoff), far more than its deadline %s",
			subject, attempts, FormatDuration(timeout), FormatDuration(deadline)).
			WithHint("lower the attempts or the backoff"))
		return
	}
	c.add(diag.Errorf(rng, "retry-budget",
		"retry schedule of %s takes up to %s (%s × %s timeout + %s backoff), more than its deadline %s",
		subject, FormatDuration(worst), attempts, FormatDuration(timeout), FormatDuration(BackoffTotal(r)), FormatDuration(deadline)).
		WithHint("raise the deadline to at least %s, or lower the attempts, the timeout or the backoff", FormatDuration(worst)))
}

// waitBudget is budget for a step that waits (an await): its timeout bounds
// the wait, which happens once, so only the backoff between the retries
// of what runs after the event (await-retry) adds to it; those attempts
// have no timeout (Flow.AttemptTimeoutFor). Multiplying the wait by the
// attempts, as for a step that works, would reject a schedule that fits.
func (c *checker) waitBudget(s *Step, kw string, r Retry, wait, deadline time.Duration, at diag.Range) {
	backoff := BackoffTotal(r)
	worst := satAdd(wait, backoff)
	if worst <= deadline {
		return
	}
	rng := pick(s.DeadlineRange, at)
	if worst == maxDuration {
		c.add(diag.Errorf(rng, "retry-budget",
			"%s in step %q takes over 292 years in the worst case (its %s timeout + the backoff of %d attempts), far more than its deadline %s",
			kw, s.Name, FormatDuration(wait), r.Attempts, FormatDuration(deadline)).
			WithHint("lower the attempts or the backoff"))
		return
	}
	if backoff == 0 {
		c.add(diag.Errorf(rng, "retry-budget",
			"%s in step %q waits up to %s (its timeout), more than its deadline %s, which would end the wait first",
			kw, s.Name, FormatDuration(wait), FormatDuration(deadline)).
			WithHint("lower the %s's timeout to at most %s, or raise the deadline to at least %s", kw, FormatDuration(deadline), FormatDuration(wait)))
		return
	}
	c.add(diag.Errorf(rng, "retry-budget",
		"%s in step %q takes up to %s (its %s timeout, waited once, + %s backoff between the retries of what runs after the event), more than its deadline %s",
		kw, s.Name, FormatDuration(worst), FormatDuration(wait), FormatDuration(backoff), FormatDuration(deadline)).
		WithHint("raise the deadline to at least %s, or lower the %s's timeout or the backoff", FormatDuration(worst), kw))
}

// rpcEndpoints reports an rpc endpoint that two flows of f take: a call
// of it starts one flow (flowgen serve, engine.Register and the generated
// Triggers alike), so one of them could never be started by it. The flow
// service adds the endpoints of the flows it holds (rpc-taken).
func (c *checker) rpcEndpoints(f *File) {
	type owner struct {
		flow *Flow
		at   diag.Range
	}
	first := map[string]owner{}
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		for _, t := range fl.rpcTriggers() {
			at := pick(t.At("endpoint"), fl.NameRange)
			prev, ok := first[t.Endpoint]
			switch {
			case !ok:
				first[t.Endpoint] = owner{fl, at}
			case prev.flow != fl:
				c.duplicate("rpc-conflict", prev.at, at, "an rpc endpoint starts one flow: give one of them another endpoint",
					"flow %q cannot take rpc endpoint %q: flow %q has it (at %s)", fl.Name, t.Endpoint, prev.flow.Name)
			}
		}
	}
}

// rpcTriggers returns the flow's rpc triggers that name an endpoint, each
// endpoint once, at its first trigger: a second trigger of one endpoint is
// the flow's duplicate-trigger, not another claim on it (rpc-conflict).
func (f *Flow) rpcTriggers() []*Trigger {
	var out []*Trigger
	seen := map[string]bool{}
	for _, t := range f.Triggers {
		if t == nil || t.Kind != runtime.TriggerRPC || t.Endpoint == "" || seen[t.Endpoint] {
			continue
		}
		seen[t.Endpoint] = true
		out = append(out, t)
	}
	return out
}

func (c *checker) triggers(f *Flow) {
	seen := map[runtime.Trigger]*Trigger{}
	for _, t := range f.Triggers {
		if t == nil {
			continue
		}
		at := pick(t.Range, f.NameRange)
		if prev, dup := seen[t.Trigger]; dup {
			c.duplicate("duplicate-trigger", prev.Range, at, "remove the repeated trigger", "duplicate %s trigger in flow %q (first at %s)", t.Kind, f.Name)
			continue
		}
		seen[t.Trigger] = t
		for _, field := range t.EmptyFields() {
			c.empty(field, string(t.Kind)+" trigger", pick(t.At(field), at))
		}
		if t.Kind == TriggerSchedule {
			if _, err := runtime.ParseSchedule(t.Schedule); err != nil {
				c.add(diag.Errorf(pick(t.At("schedule"), at), "cron", "invalid schedule %q: %s", t.Schedule, diag.Cut(err.Error())).
					WithHint("use a 5-field cron expression such as \"0 3 * * *\" (minute hour day-of-month month day-of-week), a descriptor such as \"@daily\", or \"@every 1h\""))
			}
		}
	}
}
