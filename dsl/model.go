// Package dsl is the resolved model of .flow files: flows, steps, actions,
// transitions and retry policies, each with the source range it came from.
// The parser's grammar structs are turned into this model by
// dsl/flowfile.Build, and the JSON form by DecodeJSON; checks, diagrams and
// the code generator all read this model and never the grammar. dsl
// imports neither the parser nor the Go package loader (dsl/gocheck), so a
// program that runs JSON flows links neither.
package dsl

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
	"github.com/flowgen/flowgen/runtime"
)

// FormatVersion is the version of the JSON form. Readers reject other
// versions rather than guess.
const FormatVersion = 1

// File is one .flow (or .json) source with its flows in source order.
type File struct {
	Version int        `json:"version"`
	Name    string     `json:"-"` // path as given by the user, for diagnostics
	Flows   []*Flow    `json:"flows"`
	Range   diag.Range `json:"-"`
	// Package holds the flows of the other .flow files of the Go package
	// the file belongs to, when one of its calls names a flow it does not
	// declare (CheckOptions.PackageFlows): a call may run them. They are
	// not the file's: not printed, not in its JSON form, not generated
	// from it.
	Package []*Flow `json:"-"`
}

// Flow is one declared flow.
type Flow struct {
	Name     string     `json:"name"`
	Doc      string     `json:"doc,omitempty"` // comment lines above the flow, without "//"
	State    *Ident     `json:"state,omitempty"`
	Triggers []*Trigger `json:"triggers,omitempty"`
	// Retry, Timeout and Deadline are flow-wide defaults for every step;
	// nil or zero means "not set here".
	Retry     *Retry     `json:"retry,omitempty"`
	Timeout   Duration   `json:"timeout,omitzero"`
	Deadline  Duration   `json:"deadline,omitzero"`
	Steps     []*Step    `json:"steps"`
	NameRange diag.Range `json:"-"`
	Range     diag.Range `json:"-"`
}

// TriggerKind and its values are the runtime's (the word after `trigger`).
type TriggerKind = runtime.TriggerKind

const (
	TriggerRPC      = runtime.TriggerRPC
	TriggerEvent    = runtime.TriggerEvent
	TriggerSchedule = runtime.TriggerSchedule
)

// Trigger starts a flow: an RPC endpoint, an event on a topic, or a
// schedule (runtime.ParseSchedule). It is the runtime's Trigger, the one
// type the generated code, the engine and this model share, with where it
// was written for diagnostics; its JSON form is the runtime.Trigger's
// fields.
type Trigger struct {
	runtime.Trigger
	Range diag.Range `json:"-"`
	// ValueRange is where the trigger's value is written (an rpc
	// trigger's endpoint, an event trigger's topic, a schedule trigger's
	// schedule) and EventRange an event trigger's event: a diagnostic
	// about a value points at it (At), not at the line's `trigger`.
	ValueRange, EventRange diag.Range `json:"-"`
}

// At is where the trigger's field (runtime.Trigger's JSON name:
// "endpoint", "topic", "event", "schedule") is written, or else where the
// trigger is.
func (t *Trigger) At(field string) diag.Range {
	if field == "event" {
		return pick(t.EventRange, t.Range)
	}
	return pick(t.ValueRange, t.Range)
}

// Jitter is how the backoff delay is randomised.
type Jitter string

const (
	JitterFull Jitter = "full" // sleep a uniform random time in [0, delay]; the default
	JitterNone Jitter = "none"
)

// Retry is a retry policy: Attempts tries in all, with exponential backoff
// between them starting at Initial, multiplied by Multiplier each time and
// capped at Max.
type Retry struct {
	Attempts   int        `json:"attempts"`
	Initial    Duration   `json:"initial,omitzero"`
	Max        Duration   `json:"max,omitzero"`
	Multiplier float64    `json:"multiplier,omitempty"` // 0 means DefaultMultiplier
	Jitter     Jitter     `json:"jitter,omitempty"`     // "" means JitterFull
	Range      diag.Range `json:"-"`
	// Where each part is written (zero when it is not): a diagnostic
	// about a part points at its value, not at the line's `retry`.
	// BackoffRange is the range Initial..Max (in JSON, "initial", else
	// "max").
	AttemptsRange, BackoffRange, MultiplierRange, JitterRange diag.Range `json:"-"`
}

// DefaultMultiplier is the backoff growth factor when none is written.
const DefaultMultiplier = runtime.DefaultMultiplier

// The bounds of a written retry policy, the one home of the rule: the .flow
// builder reports a number below its bound at the number (code syntax),
// and Check reports one in any model, JSON or built in Go (retry-attempts,
// retry-multiplier). Both messages say "at least" the bound.
const (
	// MinAttempts is the fewest attempts: retry 1 tries once and never
	// retries.
	MinAttempts = 1
	// MinMultiplier is the smallest backoff multiplier: 1 keeps the delay
	// constant, less would shrink it.
	MinMultiplier = 1.0
)

// ValidAttempts reports whether n is a retry policy's number of attempts:
// at least MinAttempts.
func ValidAttempts(n int) bool { return n >= MinAttempts }

// ValidMultiplier reports whether m, a written multiplier (the model's 0
// is none written: DefaultMultiplier), is one: at least MinMultiplier.
func ValidMultiplier(m float64) bool { return m >= MinMultiplier }

// ActionKind is what a step does.
type ActionKind string

const (
	ActionGo      ActionKind = "go"      // a method the user implements
	ActionRPC     ActionKind = "rpc"     // call a service endpoint
	ActionAwait   ActionKind = "await"   // wait for an event
	ActionPublish ActionKind = "publish" // publish an event
	ActionSleep   ActionKind = "sleep"   // wait for a time: a durable timer
	ActionChoose  ActionKind = "choose"  // decide where to go from the state
	ActionCall    ActionKind = "call"    // run another flow as a child run
)

// Action is the one thing a step does. For a Go step only Kind is set.
type Action struct {
	Kind     ActionKind `json:"kind"`
	Service  string     `json:"service,omitempty"`  // rpc
	Endpoint string     `json:"endpoint,omitempty"` // rpc
	Topic    string     `json:"topic,omitempty"`    // await, publish
	Event    string     `json:"event,omitempty"`    // await, publish
	Request  *Ident     `json:"request,omitempty"`  // rpc request / publish payload / call input: a state field
	Response *Ident     `json:"response,omitempty"` // rpc response / awaited payload / call result: a state field
	// Correlate (await) is the state field an event must carry to be
	// taken, at the payload path CorrelateOn: a dot-separated list of JSON
	// object members, such as "order_id" or "payment.order_id". Without
	// CorrelateOn the path is DefaultCorrelationPath. CorrelateOn is an
	// Ident for its position; its Name is the path.
	Correlate   *Ident   `json:"correlate,omitempty"`
	CorrelateOn *Ident   `json:"correlate_on,omitempty"`
	Timeout     Duration `json:"timeout,omitzero"` // await: how long to wait
	// Duration (sleep D) is how long a sleep waits from when its step is
	// entered; Until (sleep until Field) is the state field, a time.Time,
	// holding when it wakes. A sleep has exactly one of the two.
	Duration Duration `json:"duration,omitzero"`
	Until    *Ident   `json:"until,omitempty"`
	// DurationRange is where Duration is written (zero when it is not),
	// for a diagnostic about its value.
	DurationRange diag.Range `json:"-"`
	// When (choose) are the branches, tried in order; Otherwise is where
	// the run goes when no branch's condition holds.
	When      []*Branch `json:"when,omitempty"`
	Otherwise *Ident    `json:"otherwise,omitempty"`
	// Flow (call) is the flow of the same file that the step runs as a
	// child run: Request is the state field passed as the child's state,
	// Response the one that receives the child's final state.
	Flow  *Ident     `json:"flow,omitempty"`
	Range diag.Range `json:"-"`
}

// DefaultCorrelationPath is the payload member a correlated await compares
// when its flow names none (`correlate Field` without `on`): the runtime's,
// which is what compares it.
const DefaultCorrelationPath = runtime.CorrelationField

// CorrelationPath is the payload path a correlated await compares with its
// Correlate field: CorrelateOn, or DefaultCorrelationPath.
func (a *Action) CorrelationPath() string {
	if a.CorrelateOn != nil {
		return a.CorrelateOn.Name
	}
	return DefaultCorrelationPath
}

// Rollback undoes a completed step: a Go method (Name) or an RPC (Action).
type Rollback struct {
	Name   *Ident     `json:"name,omitempty"`
	Action *Action    `json:"action,omitempty"`
	Range  diag.Range `json:"-"`
}

// Publication is an event published after a step succeeds.
type Publication struct {
	Topic   string     `json:"topic"`
	Event   string     `json:"event"`
	Payload *Ident     `json:"payload,omitempty"`
	Range   diag.Range `json:"-"`
}

// Target names where a transition goes: a step, or one of the terminals,
// which are the runtime's (the generated code and the engine pass them on).
const (
	TargetDone = runtime.Done
	TargetFail = runtime.Fail
)

// Built-in outcomes, the runtime's. Go steps may declare more.
const (
	OutcomeOK      = string(runtime.OutcomeOK)
	OutcomeError   = string(runtime.OutcomeError)
	OutcomeTimeout = string(runtime.OutcomeTimeout)
)

// Transition is "on <Outcome> -> <Target>".
type Transition struct {
	On     *Ident     `json:"on"`
	Target *Ident     `json:"target"`
	Range  diag.Range `json:"-"`
}

// Step is one step of a flow.
type Step struct {
	Name string `json:"name"`
	Doc  string `json:"doc,omitempty"`
	// Parallel makes the step a parallel block (dsl/parallel.go): a
	// step with no action whose branches run at the same time.
	Parallel     *Parallel      `json:"parallel,omitempty"`
	Action       *Action        `json:"action,omitempty"` // nil only for a parallel block
	Retry        *Retry         `json:"retry,omitempty"`
	Timeout      Duration       `json:"timeout,omitzero"`
	Deadline     Duration       `json:"deadline,omitzero"`
	Rollback     *Rollback      `json:"rollback,omitempty"`
	Irreversible bool           `json:"irreversible,omitempty"`
	Publish      []*Publication `json:"publish,omitempty"`
	Outcomes     []*Ident       `json:"outcomes,omitempty"`
	// Writes are the state fields a Go step that is a branch of a
	// parallel block declares it writes (`writes A, B`): what the block
	// merges back when the branch completes (Step.BranchWrites).
	Writes      []*Ident      `json:"writes,omitempty"`
	Transitions []*Transition `json:"on,omitempty"`
	NameRange   diag.Range    `json:"-"`
	Range       diag.Range    `json:"-"`
	// Where the step's timeout and deadline values (the duration after
	// the keyword) and its irreversible are written (zero when they are
	// not), so that a diagnostic about one of them points at it rather
	// than at the step's name, where it would also hide the others:
	// diag.List.Normalize keeps one per line.
	TimeoutRange, DeadlineRange, IrreversibleRange diag.Range `json:"-"`
}

// Ident is a name used in a flow (a state field, step, outcome or type) with
// where it was written. In JSON it is a plain string.
type Ident struct {
	Name  string
	Range diag.Range
}

func (i *Ident) String() string {
	if i == nil {
		return ""
	}
	return i.Name
}

func (i Ident) MarshalJSON() ([]byte, error) { return json.Marshal(i.Name) }

func (i *Ident) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &i.Name) }

// Duration is a time.Duration written in Go syntax ("250ms", "1h30m") in
// both .flow and JSON.
type Duration time.Duration

func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %s: want Go syntax such as 250ms or 1h30m", diag.Quote(string(b)))
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %s: must not be negative", diag.Quote(string(b)))
	}
	*d = Duration(v)
	return nil
}

// DurationHint says how to write a duration that time.ParseDuration
// refused (text), in .flow and JSON alike: in Go's syntax, and, for a
// number of days (a unit Go does not have, and the one most often tried),
// the hours it is, which fix then holds ("24h" for "1d"; else "").
func DurationHint(text string) (hint, fix string) {
	if days, ok := strings.CutSuffix(text, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n <= 1<<20 {
			unit := "days"
			if n == 1 {
				unit = "day"
			}
			fix = strconv.Itoa(24*n) + "h"
			return fmt.Sprintf("durations use Go syntax, which has no days: %d %s is %s", n, unit, fix), fix
		}
	}
	return "durations use Go syntax with units ns, us, ms, s, m, h, such as 250ms or 1h30m", ""
}

// FormatDuration prints d in Go's syntax without its zero units:
// "1h30m" rather than time.Duration's "1h30m0s" (ident.Duration, which fmt
// uses too).
func FormatDuration(d time.Duration) string { return ident.Duration(d) }

// String is the trigger as written in a .flow file after "trigger", so that
// doc comments and diagrams show it in the language's own syntax.
func (t *Trigger) String() string {
	switch t.Kind {
	case TriggerRPC:
		return "rpc " + strconv.Quote(t.Endpoint)
	case TriggerEvent:
		return "event " + ident.Format(t.Topic) + " " + strconv.Quote(t.Event)
	case TriggerSchedule:
		return "schedule " + strconv.Quote(t.Schedule)
	}
	return string(t.Kind)
}
