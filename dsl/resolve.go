package dsl

import (
	"math"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/runtime"
)

// This file holds the derived facts of the model that every consumer
// (checks, diagrams, the generator, runtime adapters) needs: effective
// policies, where each outcome of a step goes, which steps are reachable and
// which Go methods the user implements. They are computed here and nowhere
// else so that the checker, the diagram and the generated code cannot
// disagree about the semantics.
//
// Semantics, in one place:
//   - Retry: a step's `retry` overrides the flow's. Attempts always come from
//     the policy that is written closest to the step; backoff (initial..max),
//     multiplier and jitter that the step's retry does not write are taken from
//     the flow's retry. With no retry anywhere a step has 1 attempt. The
//     multiplier defaults to 2 and jitter to full. The flow's retry does not
//     apply to a step that waits (an await; KindSpec.Waits): it waits once,
//     for its whole timeout, unless the step itself says `retry` (Check
//     warns when it does).
//   - Timeout (per attempt): an await's own `timeout` (on the await line),
//     else the step's `timeout`, else (except for steps that wait) the
//     flow's; 0 means none.
//   - Deadline (the step's total budget, retries included): the step's, else
//     (except for steps that wait) the flow's; 0 means none.
//   - Wait (how long an await waits for its event): the shorter of its
//     timeout and its deadline, either one alone when the other is 0; 0
//     means no bound (Check rejects an await without a timeout).
//   - Rollback: its retry is the step's effective retry; its per-attempt
//     timeout is the step's effective timeout, except for an await, whose
//     rollback takes only the step's own `timeout` (the await's timeout
//     bounds the wait, not the undo).
//   - Why awaits (and every kind that waits) are different: the flow's retry, timeout and deadline are
//     sized for steps that do work (an rpc answers in seconds), while an
//     await waits for a person or another system (hours, days). Applying
//     "retry 3, timeout 10s, deadline 1m" to a 72h await would be wrong
//     every time, so an await uses only what its own step writes.
//   - Sleep (`sleep D`, `sleep until Field`): a step that waits for a time
//     (KindSpec.Waits) with no timeout of its own. Like an await, it takes
//     none of the flow's retry, timeout or deadline. Its step's `deadline`
//     bounds it: a deadline that passes before the wake-up time ends it
//     with the timeout outcome. A step's `retry` retries only what runs
//     after the wake-up (its publications), never the sleep. Check rejects
//     a `timeout` on it: there is no attempt for one to bound.
//   - Choose: a step that decides (KindSpec.Decides) does no work, so it
//     takes none of the flow's retry, timeout or deadline (Check refuses
//     its own). Its outcomes are its branches (runtime.ChoiceOutcome),
//     otherwise (runtime.OutcomeOtherwise), each going to its target,
//     and error (a JSON state of the wrong type), which goes to fail.
//   - Outcomes a step can produce: ok; error unless nothing in it can fail
//     (a `sleep D` without publications: CanFail); timeout when it has an
//     effective timeout or deadline, or is an await (CanTimeout); then its
//     declared outcomes.
//   - Parallel blocks (parallel.go): a block takes none of the flow's
//     policies; its outcomes are ok, error, and timeout when a branch can
//     time out; its branches take the flow's policies like any step and
//     have no edges (branches do not route).
//   - Where an outcome goes: the step's `on <outcome> -> <target>` if written
//     (the first one, when duplicated); otherwise ok and declared outcomes go
//     to the next step in file order (done after the last), error and
//     timeout go to fail.

// Flow returns the flow named name, or nil.
func (f *File) Flow(name string) *Flow {
	if f == nil {
		return nil
	}
	for _, fl := range f.Flows {
		if fl != nil && fl.Name == name {
			return fl
		}
	}
	return nil
}

// Step returns the first step named name, or nil.
func (f *Flow) Step(name string) *Step {
	if i := f.StepIndex(name); i >= 0 {
		return f.Steps[i]
	}
	return nil
}

// StepIndex returns the file-order index of the first step named name, or -1.
func (f *Flow) StepIndex(name string) int {
	if f == nil {
		return -1
	}
	for i, s := range f.Steps {
		if s != nil && s.Name == name {
			return i
		}
	}
	return -1
}

// indexOf returns the index of s in f.Steps (by identity), or -1.
func (f *Flow) indexOf(s *Step) int {
	for i, t := range f.Steps {
		if t == s {
			return i
		}
	}
	return -1
}

// Kind is the step's action kind; a step without an action is a Go step.
func (s *Step) Kind() ActionKind {
	if s.IsBlock() {
		return parallelSpec.Kind // not an action kind: see parallelSpec
	}
	if s == nil || s.Action == nil || s.Action.Kind == "" {
		return ActionGo
	}
	return s.Action.Kind
}

// IsGo reports whether the user implements the step as a Go method
// (KindSpec.Handler).
func (s *Step) IsGo() bool { return s.Spec().Handler }

// HasSideEffects reports whether running the step changes the world
// outside the run: its kind has side effects (an rpc, a publish, a call,
// which has its child's, a Go step, which may do anything;
// KindSpec.SideEffects), or it publishes after success. Only an await or a
// sleep without publications, and a choose, are free of side effects.
func (s *Step) HasSideEffects() bool {
	return s.Spec().SideEffects || len(s.Publish) > 0
}

// IsGo reports whether the rollback is a Go method the user implements
// (rather than an rpc or a call).
func (r *Rollback) IsGo() bool { return r != nil && r.Action == nil && r.Name != nil }

// RetryFor returns the effective retry policy of s (see the file comment):
// never nil fields, Attempts >= 1, Multiplier and Jitter filled in. Range is
// the range of the retry statement the attempts came from (the step's or the
// flow's), or the zero Range when neither writes one.
func (f *Flow) RetryFor(s *Step) Retry {
	r, _ := f.resolveRetry(s)
	return r
}

// retryPart is a part of a retry line besides its attempts, which a
// step's line may leave to the flow's (RetryFor).
type retryPart string

const (
	partBackoff    retryPart = "backoff"
	partMultiplier retryPart = "multiplier"
	partJitter     retryPart = "jitter"
)

// retryParts are the parts in the order a retry line writes them.
var retryParts = [...]retryPart{partBackoff, partMultiplier, partJitter}

// writes reports whether r writes part p (a zero value is none written).
func (r *Retry) writes(p retryPart) bool {
	switch p {
	case partBackoff:
		return r.Initial != 0 || r.Max != 0
	case partMultiplier:
		return r.Multiplier != 0
	case partJitter:
		return r.Jitter != ""
	}
	return false
}

// resolveRetry is RetryFor, and for each of retryParts the retry line the
// effective policy took it from (the step's or the flow's; nil when neither
// writes it): the one home of the rule, which idleRetries reads too.
func (f *Flow) resolveRetry(s *Step) (Retry, [len(retryParts)]*Retry) {
	var from [len(retryParts)]*Retry
	var flow, line *Retry
	if f != nil {
		flow = f.Retry
	}
	if s != nil {
		line = s.Retry
	}
	if line == nil && s.Spec().inherits() {
		line = flow
	}
	if line == nil {
		return Retry{}.normalized(), from
	}
	r := *line
	for i, p := range retryParts {
		switch {
		case line.writes(p):
			from[i] = line
		case line != flow && flow != nil && flow.writes(p):
			r.take(p, flow)
			from[i] = flow
		}
	}
	return r.normalized(), from
}

// take sets part p of r to src's.
func (r *Retry) take(p retryPart, src *Retry) {
	switch p {
	case partBackoff:
		r.Initial, r.Max = src.Initial, src.Max
	case partMultiplier:
		r.Multiplier = src.Multiplier
	case partJitter:
		r.Jitter = src.Jitter
	}
}

// idleRetry is a retry line, the flow's or a step's, that makes a single
// attempt and writes parts that therefore never apply.
type idleRetry struct {
	Retry *Retry
	Step  *Step // the step whose line it is; nil for the flow's
	Parts []retryPart
}

// idleRetries returns the retry lines of f that write a backoff, a
// multiplier or a jitter that never applies, because the line makes a
// single attempt: a step's line, or the flow's when no step that retries
// takes them from it (a step's own retry that does not write a part takes
// the flow's, RetryFor). Only the flow's line can lend a part to a step
// that makes more attempts: a step's line of one attempt is its step's
// whole policy. A rollback retries as its step does (RollbackRetryFor),
// so it uses no more. The flow's line comes first, then the steps' in
// AllSteps order; a line with fewer than MinAttempts is left to Check's
// retry-attempts. One pass over the steps.
func (f *Flow) idleRetries() []idleRetry {
	if f == nil {
		return nil
	}
	var lent [len(retryParts)]bool // the flow's parts a step that retries takes
	lines := []idleRetry{{Retry: f.Retry}}
	for _, s := range f.AllSteps() {
		if s.Retry != nil {
			lines = append(lines, idleRetry{Retry: s.Retry, Step: s})
		}
		if eff, from := f.resolveRetry(s); eff.Attempts > MinAttempts && f.Retry != nil {
			for i, r := range from {
				lent[i] = lent[i] || r == f.Retry
			}
		}
	}
	var out []idleRetry
	for _, l := range lines {
		if l.Retry == nil || l.Retry.Attempts != MinAttempts {
			continue
		}
		for i, p := range retryParts {
			if l.Retry.writes(p) && !(l.Step == nil && lent[i]) {
				l.Parts = append(l.Parts, p)
			}
		}
		if len(l.Parts) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// RollbackRetryFor returns the retry policy of the rollback of s. A rollback
// has no retry statement of its own, so it uses the step's effective policy:
// undoing must try at least as hard as doing.
func (f *Flow) RollbackRetryFor(s *Step) Retry { return f.RetryFor(s) }

// RollbackTimeoutFor returns the per-attempt timeout of the rollback of s:
// the step's `timeout`, else the flow's. A step that waits (an await, a
// sleep, a call) takes none of the flow's policies for its wait, and an
// await's own timeout bounds the wait, not the undo; but a Go or rpc
// rollback does work as any step's does, and without the flow's timeout
// the rollback of a sleep or a call (whose step may not have a `timeout`)
// could never be bounded. A `rollback call` of a step that waits takes
// only the step's: the child's steps have their own timeouts, as a
// call's do. A step without a rollback has none.
func (f *Flow) RollbackTimeoutFor(s *Step) time.Duration {
	if s == nil || s.Rollback == nil {
		return 0
	}
	if s.Timeout > 0 {
		return time.Duration(s.Timeout)
	}
	if rb := s.Rollback; f == nil || !s.Spec().inherits() && rb != nil && rb.Action != nil && rb.Action.Kind == ActionCall {
		return 0
	}
	return time.Duration(f.Timeout)
}

// Policy is r as the runtime's retry policy, the one mapping of the
// model's policy onto runtime.Step.Retry and RollbackRetry: generated code
// writes it as a literal and the engine uses it for JSON flows. r should be
// an effective policy (RetryFor); a zero Attempts is 1, a zero Multiplier
// is DefaultMultiplier and an unset Jitter is full, as RetryFor fills them.
func (r Retry) Policy() runtime.RetryPolicy {
	r = r.normalized()
	return runtime.RetryPolicy{
		Attempts:   r.Attempts,
		Initial:    time.Duration(r.Initial),
		Max:        time.Duration(r.Max),
		Multiplier: r.Multiplier,
		Jitter:     r.Jitter != JitterNone,
	}
}

func (r Retry) normalized() Retry {
	if !ValidAttempts(r.Attempts) {
		r.Attempts = MinAttempts
	}
	if r.Multiplier == 0 {
		r.Multiplier = DefaultMultiplier
	}
	if r.Jitter == "" {
		r.Jitter = JitterFull
	}
	return r
}

// TimeoutFor returns the per-attempt timeout of s (0 means none): the
// timeout of a step that waits (an await's own), else the step's, else
// the flow's (not for a step that waits).
func (f *Flow) TimeoutFor(s *Step) time.Duration {
	waits := s.Spec().Waits
	if s != nil && waits && s.Action.Timeout > 0 {
		return time.Duration(s.Action.Timeout)
	}
	if s != nil && s.Timeout > 0 {
		return time.Duration(s.Timeout)
	}
	if f != nil && s.Spec().inherits() {
		return time.Duration(f.Timeout)
	}
	return 0
}

// AttemptTimeoutFor returns the per-attempt timeout the runtime enforces
// on s (runtime.Step.Timeout; 0 means none): TimeoutFor, except for a
// step that waits (an await), whose timeout bounds its wait (runtime.Wait.Deadline) and
// ends the step with the timeout outcome instead of abandoning a running
// attempt, so it is 0.
func (f *Flow) AttemptTimeoutFor(s *Step) time.Duration {
	if s.Spec().Waits {
		return 0
	}
	return f.TimeoutFor(s)
}

// DeadlineFor returns the total budget of s including all retries and
// backoff (0 means none): the step's, else the flow's (not for a step
// that waits).
func (f *Flow) DeadlineFor(s *Step) time.Duration {
	if s != nil && s.Deadline > 0 {
		return time.Duration(s.Deadline)
	}
	if f != nil && s.Spec().inherits() {
		return time.Duration(f.Deadline)
	}
	return 0
}

// WorstCase returns the longest time a step with policy r and per-attempt
// timeout can take before its last attempt gives up: every attempt runs to
// its timeout and every backoff sleeps its full capped delay (full jitter
// draws from [0, delay], so the delay is also its worst case). The result
// saturates at the largest time.Duration instead of overflowing. It is
// meaningful only when timeout > 0.
func WorstCase(r Retry, timeout time.Duration) time.Duration {
	r = r.normalized()
	total := satMul(timeout, int64(r.Attempts))
	return satAdd(total, BackoffTotal(r))
}

// BackoffTotal is the sum of the (capped) delays between the attempts of r:
// Attempts-1 delays, the n-th (from 0) being min(Max, Initial*Multiplier^n),
// or uncapped when Max is 0. It saturates instead of overflowing and runs in
// time independent of Attempts once the delay reaches the cap.
func BackoffTotal(r Retry) time.Duration {
	r = r.normalized()
	if r.Initial <= 0 || r.Attempts < 2 {
		return 0
	}
	gaps := int64(r.Attempts - 1)
	capped := func(d float64) float64 {
		if r.Max > 0 && d > float64(r.Max) {
			return float64(r.Max)
		}
		return d
	}
	if r.Multiplier <= 1 {
		// The delay never grows (Check reports a multiplier below 1; the
		// first delay is then the worst).
		return satMul(time.Duration(capped(float64(r.Initial))), gaps)
	}
	// Sum exactly while the delay grows, then every remaining delay is the
	// cap (or, uncapped, the sum has long saturated).
	var total time.Duration
	delay := float64(r.Initial)
	for n := int64(0); n < gaps; n++ {
		d := capped(delay)
		if d >= float64(maxDuration) {
			return maxDuration
		}
		if r.Max > 0 && d == float64(r.Max) {
			return satAdd(total, satMul(r.Max.std(), gaps-n))
		}
		total = satAdd(total, time.Duration(d))
		if total == maxDuration {
			return total
		}
		delay *= r.Multiplier
		if n == exactGaps {
			return satAdd(total, geometricTail(delay, r.Multiplier, float64(r.Max), gaps-n-1))
		}
	}
	return total
}

// exactGaps bounds the exact summation loop of BackoffTotal: a multiplier
// barely above 1 would otherwise take very many steps to reach the cap.
const exactGaps = 4096

// geometricTail sums n delays starting at first, each multiplier times the
// previous, capped at limit (0: no cap), in closed form.
func geometricTail(first, multiplier, limit float64, n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	uncapped := float64(n)
	if limit > 0 {
		k := math.Ceil(math.Log(limit/first) / math.Log(multiplier))
		uncapped = math.Max(0, math.Min(k, float64(n)))
	}
	sum := first * (math.Pow(multiplier, uncapped) - 1) / (multiplier - 1)
	sum += (float64(n) - uncapped) * limit
	if math.IsNaN(sum) || sum >= float64(maxDuration) {
		return maxDuration
	}
	return time.Duration(sum)
}

func (d Duration) std() time.Duration { return time.Duration(d) }

const maxDuration = time.Duration(1<<63 - 1)

func satAdd(a, b time.Duration) time.Duration {
	if a > maxDuration-b {
		return maxDuration
	}
	return a + b
}

func satMul(d time.Duration, n int64) time.Duration {
	if d <= 0 || n <= 0 {
		return 0
	}
	if int64(d) > int64(maxDuration)/n {
		return maxDuration
	}
	return d * time.Duration(n)
}

// Outcomes returns the outcomes s can produce, in a fixed order: ok, error
// (when it can fail: CanFail), timeout (when it can time out: CanTimeout), then the
// declared outcomes in source order. Declared outcomes that repeat a
// built-in or an earlier declaration are not repeated.
func (f *Flow) Outcomes(s *Step) []string {
	if s.Spec().Decides {
		var out []string
		for _, e := range s.Action.ChoiceEdges() {
			out = append(out, e.Outcome)
		}
		return append(out, OutcomeError)
	}
	out := f.builtinOutcomes(s)
	if s == nil {
		return out
	}
	seen := make(map[string]bool, len(out)+len(s.Outcomes))
	for _, o := range out {
		seen[o] = true
	}
	for _, o := range s.Outcomes {
		if o == nil || o.Name == "" || seen[o.Name] {
			continue
		}
		seen[o.Name] = true
		out = append(out, o.Name)
	}
	return out
}

// builtinOutcomes returns the outcomes s can end with that it does not
// declare: ok, error when it can fail, timeout when it can time out.
func (f *Flow) builtinOutcomes(s *Step) []string {
	out := []string{OutcomeOK}
	if s.CanFail() {
		out = append(out, OutcomeError)
	}
	if f.CanTimeout(s) {
		out = append(out, OutcomeTimeout)
	}
	return out
}

// CanFail reports whether s can end with the outcome error: its action
// can fail (KindSpec.Fails), or it publishes after success. Only a `sleep
// D` without publications cannot. An abort, or the run's history bound
// (runtime.WithMaxHistory), ends any step without routing an outcome: the
// run goes to its rollbacks whatever the step's `on error` says.
func (s *Step) CanFail() bool {
	if s == nil || s.IsBlock() || len(s.Publish) > 0 {
		return true
	}
	fails := s.Spec().Fails
	return fails == nil || fails(s.Action)
}

// CanTimeout reports whether s can end with the timeout outcome: it has a
// timeout, or a deadline (it cuts an attempt short, or leaves no time for
// the next: runtime.DeadlinePassed, runtime.NoTimeForRetry), or it waits
// for something its kind bounds with a timeout (an await).
func (f *Flow) CanTimeout(s *Step) bool {
	if s.IsBlock() {
		return f.blockCanTimeout(s)
	}
	if spec := s.Spec(); spec.Waits && spec.Has(FieldTimeout) {
		return true
	}
	return f.TimeoutFor(s) > 0 || f.DeadlineFor(s) > 0
}

// Transition returns the step's transition for outcome, or nil when none is
// written (the first one when several are).
func (s *Step) Transition(outcome string) *Transition {
	if s == nil {
		return nil
	}
	for _, t := range s.Transitions {
		if t != nil && t.On != nil && t.On.Name == outcome {
			return t
		}
	}
	return nil
}

// Next returns where outcome of step s goes: a step name, TargetDone or
// TargetFail. A written transition wins (its target is returned as written,
// even when it names no step: Check reports that); otherwise ok and any
// other non-failure outcome go to the next step in file order (TargetDone
// after the last), error and timeout go to TargetFail. s must be a step of f.
func (f *Flow) Next(s *Step, outcome string) string {
	return f.NextAt(f.indexOf(s), outcome)
}

// NextAt is Next for the step at index i of f.Steps, for callers that walk
// the steps in order and want to avoid Next's search for the step.
func (f *Flow) NextAt(i int, outcome string) string {
	if i < 0 || i >= len(f.Steps) {
		return TargetFail
	}
	if t := f.Steps[i].Transition(outcome); t != nil && t.Target != nil {
		return t.Target.Name
	}
	return f.defaultNext(i, outcome)
}

// IsFailure reports whether outcome means that the step did not complete:
// error and timeout. By default a failure goes to fail and any other
// outcome to the next step; a step that ended with a failure is not rolled
// back, one that ended with any other outcome is.
func IsFailure(outcome string) bool {
	return outcome == OutcomeError || outcome == OutcomeTimeout
}

func (f *Flow) defaultNext(i int, outcome string) string {
	if IsFailure(outcome) {
		return TargetFail
	}
	for j := i + 1; j < len(f.Steps); j++ {
		if f.Steps[j] != nil {
			return f.Steps[j].Name
		}
	}
	return TargetDone
}

// Edge is where one outcome of a step goes.
type Edge struct {
	From    *Step
	Outcome string
	To      string      // a step name, TargetDone or TargetFail
	Written *Transition // the `on` that says so; nil when To is the default
	// Choice is the choose line that says so (its Branch is nil for
	// otherwise); nil for the other steps' edges.
	Choice *ChoiceEdge
}

// IsDefault reports whether e goes where the outcome goes when nothing
// says otherwise (the next step in file order, or fail).
func (e Edge) IsDefault() bool { return e.Written == nil && e.Choice == nil }

// Edges returns, for every step in file order, one edge per outcome the
// step can produce (in the order of Outcomes). Transitions on outcomes the
// step cannot produce are not edges (Check reports them).
func (f *Flow) Edges() []Edge {
	var out []Edge
	for i, s := range f.Steps {
		if s == nil {
			continue
		}
		out = append(out, f.edgesAt(i)...)
	}
	return out
}

// EdgesByStep maps each step of f to its edges (see Edges), for code that
// looks up the edges of every step: StepEdges, which searches the flow for
// the step, would be quadratic in the steps of the flow.
func (f *Flow) EdgesByStep() map[*Step][]Edge {
	out := make(map[*Step][]Edge, len(f.Steps))
	for i, s := range f.Steps {
		if s != nil {
			out[s] = f.edgesAt(i)
		}
	}
	return out
}

// StepEdges returns the edges of one step of f (see Edges); EdgesByStep
// those of every step.
func (f *Flow) StepEdges(s *Step) []Edge {
	i := f.indexOf(s)
	if i < 0 {
		return nil
	}
	return f.edgesAt(i)
}

func (f *Flow) edgesAt(i int) []Edge {
	s := f.Steps[i]
	outcomes := f.Outcomes(s)
	// First transition per outcome, as Transition finds it, in one pass.
	written := make(map[string]*Transition, len(s.Transitions))
	for _, t := range s.Transitions {
		if t != nil && t.On != nil {
			if _, dup := written[t.On.Name]; !dup {
				written[t.On.Name] = t
			}
		}
	}
	out := make([]Edge, 0, len(outcomes))
	if s.Spec().Decides {
		for _, c := range s.Action.ChoiceEdges() {
			out = append(out, Edge{From: s, Outcome: c.Outcome, To: c.Target.Name, Choice: &c})
		}
		return append(out, Edge{From: s, Outcome: OutcomeError, To: f.defaultNext(i, OutcomeError)})
	}
	for _, o := range outcomes {
		t := written[o]
		e := Edge{From: s, Outcome: o, Written: t}
		if t != nil && t.Target != nil {
			e.To = t.Target.Name
		} else {
			e.Written = nil
			e.To = f.defaultNext(i, o)
		}
		out = append(out, e)
	}
	return out
}

// Reachable returns the names of the steps reachable from the first step
// by following every outcome's edge. Unknown targets are ignored. A default
// "next step" edge goes to the step that follows in the file even when its
// name repeats an earlier step's (Check reports the duplicate).
func (f *Flow) Reachable() map[string]bool {
	seen := map[string]bool{}
	for i := range f.reachableIndexes() {
		seen[f.Steps[i].Name] = true
	}
	return seen
}

// reachableIndexes returns the set of indexes of f.Steps reachable from
// index 0.
func (f *Flow) reachableIndexes() map[int]bool {
	seen := map[int]bool{}
	if f == nil || len(f.Steps) == 0 || f.Steps[0] == nil {
		return seen
	}
	index := f.firstIndexes()
	queue := []int{0}
	seen[0] = true
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, j := range f.successors(i, index) {
			if !seen[j] {
				seen[j] = true
				queue = append(queue, j)
			}
		}
	}
	return seen
}

// firstIndexes maps each step's name to the index in f.Steps of its first
// declaration (Check reports a repeated name).
func (f *Flow) firstIndexes() map[string]int {
	index := make(map[string]int, len(f.Steps))
	for i, s := range f.Steps {
		if s == nil {
			continue
		}
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	return index
}

// successors returns the indexes of the steps that the outcome edges of
// step i lead to, one per edge (index is firstIndexes): a default edge
// goes to the step that follows in the file, even when its name repeats an
// earlier step's; a named target to the first step of that name; done,
// fail and unknown targets to none.
func (f *Flow) successors(i int, index map[string]int) []int {
	var out []int
	for _, e := range f.edgesAt(i) {
		if e.To == TargetDone || e.To == TargetFail {
			continue
		}
		j, ok := index[e.To]
		if e.IsDefault() {
			j, ok = f.nextIndex(i)
		}
		if ok {
			out = append(out, j)
		}
	}
	return out
}

// nextIndex is the index of the step after i in file order.
func (f *Flow) nextIndex(i int) (int, bool) {
	for j := i + 1; j < len(f.Steps); j++ {
		if f.Steps[j] != nil {
			return j, true
		}
	}
	return 0, false
}

// Unreachable returns the steps that cannot be reached from the first step,
// in file order.
func (f *Flow) Unreachable() []*Step {
	reach := f.reachableIndexes()
	var out []*Step
	for i, s := range f.Steps {
		if s != nil && !reach[i] {
			out = append(out, s)
		}
	}
	return out
}

// Needs returns what f needs from the runtime options: what the kinds of
// its steps and of their rollback actions need (KindSpec.Needs), and a
// publisher for publications after success.
func (f *Flow) Needs() Needs {
	var n Needs
	for _, s := range f.AllSteps() {
		if s == nil {
			continue
		}
		n |= s.Spec().Needs
		if s.Rollback != nil && s.Rollback.Action != nil {
			n |= s.Rollback.Action.Spec().Needs
		}
		if len(s.Publish) > 0 {
			n |= NeedPublisher
		}
	}
	return n
}

// GoMethod is a method the user implements for a flow: a Go step
// (func(ctx, *State) (Outcome, error)) or a Go rollback
// (func(ctx, *State) error).
type GoMethod struct {
	Name     string
	Rollback bool
	// Steps are the steps that use the method: the Go step itself, or every
	// step whose rollback names it (steps may share a rollback method).
	Steps []*Step
	Range diag.Range // the first place the name is written
}

// GoMethods returns the methods the user must implement for f, in file
// order of first use: each Go step, then (after its step's own method) the
// step's Go rollback. A rollback name used by several steps is one method.
// A rollback whose name is also a Go step's name is listed twice (once per
// role): Check reports that as an error.
func (f *Flow) GoMethods() []GoMethod {
	var out []GoMethod
	rollbacks := map[string]int{}
	for _, s := range f.AllSteps() {
		if s == nil {
			continue
		}
		if s.IsGo() {
			out = append(out, GoMethod{Name: s.Name, Steps: []*Step{s}, Range: s.NameRange})
		}
		if s.Rollback.IsGo() {
			name := s.Rollback.Name.Name
			if i, ok := rollbacks[name]; ok {
				out[i].Steps = append(out[i].Steps, s)
				continue
			}
			rollbacks[name] = len(out)
			out = append(out, GoMethod{Name: name, Rollback: true, Steps: []*Step{s}, Range: s.Rollback.Name.Range})
		}
	}
	return out
}

// FieldRole says how a flow uses a state field.
type FieldRole string

const (
	RoleRequest   FieldRole = "request"   // rpc request: read
	RoleResponse  FieldRole = "response"  // rpc response or awaited payload: written
	RoleCorrelate FieldRole = "correlate" // await correlation key: read, a string, an integer or a bool
	RolePayload   FieldRole = "payload"   // published payload: read
	RoleUntil     FieldRole = "until"     // sleep until: read, a time.Time
	RoleCondition FieldRole = "condition" // a choose condition: read, compared with Cond's literal
	RoleWrites    FieldRole = "writes"    // a branch's `writes`: merged back when it completes
	RoleCallIn    FieldRole = "call-in"   // a call's child state: read, of the called flow's state type
	RoleCallOut   FieldRole = "call-out"  // a call's result: written, of the called flow's state type
)

// FieldRef is one place where a flow names a field of its state type.
type FieldRef struct {
	Field *Ident
	Role  FieldRole
	Step  *Step
	// InRollback is true when the field is named by the step's rpc
	// rollback rather than by the step itself.
	InRollback bool
	// Cond is the comparison or bool field that names the field, for
	// RoleCondition.
	Cond *Cond
}

// FieldRefs returns every state field f names, in source order within
// each step: the action's (request, response, correlation field: the
// fields of its kind that have a Role; a choose's conditions' fields), the rollback rpc's, the
// publications' payloads, then the fields a branch declares it writes; a
// parallel block's branches come after it (AllSteps).
func (f *Flow) FieldRefs() []FieldRef {
	var out []FieldRef
	add := func(id *Ident, role FieldRole, s *Step, rb bool) {
		if id != nil {
			out = append(out, FieldRef{Field: id, Role: role, Step: s, InRollback: rb})
		}
	}
	addAction := func(a *Action, s *Step, rb bool) {
		if a == nil {
			return
		}
		for _, f := range a.Spec().Fields {
			if f.Role != "" {
				add(a.IdentField(f.Field), f.Role, s, rb)
			}
		}
		for _, b := range a.When {
			if b != nil {
				b.When.Fields(func(c *Cond) {
					out = append(out, FieldRef{Field: c.Field, Role: RoleCondition, Step: s, Cond: c})
				})
			}
		}
	}
	for _, s := range f.AllSteps() {
		if s == nil {
			continue
		}
		addAction(s.Action, s, false)
		if s.Rollback != nil {
			addAction(s.Rollback.Action, s, true)
		}
		for _, p := range s.Publish {
			if p != nil {
				add(p.Payload, RolePayload, s, false)
			}
		}
		for _, w := range s.Writes {
			add(w, RoleWrites, s, false)
		}
	}
	return out
}
