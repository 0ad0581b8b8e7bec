package dsl

import (
	"slices"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/internal/ident"
)

// The table of step action kinds: what each kind is, in one place, for
// every stage that would otherwise re-derive it: the JSON form (which
// fields a kind has, which are required), the checks (side effects,
// waits, empty names), resolve (the policies of a step that waits), the
// generator and the engine (what a flow needs from the runtime options),
// and the diagrams (how an action is labelled). A stage that must still do
// something of its own per kind switches over ActionKind with a case for
// every kind (internal/kinds's test fails otherwise). CONTRIBUTING.md
// lists what adding a kind takes.

// KindSpec is what one action kind is.
type KindSpec struct {
	// Kind is the kind, which is also its name in JSON ("kind": "rpc").
	Kind ActionKind
	// Keyword starts the action's line in .flow (the grammar is
	// parser/ast.go's StepStmt); "" for a Go step, which has no action line.
	Keyword string
	// Noun names a step of the kind in messages: "an rpc", "a Go step".
	Noun string
	// Fields are the Action fields the kind may have besides "kind", in
	// the order .flow writes them. DecodeJSON rejects the others, and a
	// required one that is missing; Check reports a required string that
	// is empty.
	Fields []KindField
	// SideEffects: running the step changes the world outside the run,
	// so Check asks for a rollback or `irreversible` ("no-rollback").
	// A Go step may do anything, so it has side effects.
	SideEffects bool
	// Waits: the step waits for something outside the run (an event, a
	// time). Its own timeout bounds the wait, not each attempt, and it
	// takes none of the flow's retry, timeout or deadline (see
	// resolve.go). Check requires a timeout of a kind that waits and has
	// one (FieldTimeout); a kind that waits without one (a sleep) can end
	// with the outcome timeout only by its step's deadline.
	Waits bool
	// Fails reports whether a step of the kind can end with the outcome
	// error by what its action does; nil: it always can. A step's
	// publications after success can fail whatever its kind
	// (Step.CanFail).
	Fails func(a *Action) bool
	// Decides: the step only reads the state to choose where the run goes
	// (a choose). It does no work, so it takes none of the flow's retry,
	// timeout or deadline, and its outcomes are its branches (Flow.Outcomes).
	Decides bool
	// Handler: the user implements the step as a Go method (the generated
	// handler interface lists it; the engine calls a registered handler).
	// Only such a step can declare outcomes of its own.
	Handler bool
	// Rollback: an action of the kind can also undo a step
	// (`rollback rpc ...`).
	Rollback bool
	// Needs is what a flow with such a step needs from the runtime
	// options: runtime.Flow.Register refuses a flow whose predefined
	// steps lack one (runtime/needs.go), and the generated constructor's
	// doc comment names them (Flow.Needs, Needs.Options).
	Needs Needs
	// Label is the action as a diagram shows it: its .flow line, state
	// fields printed by field, without an await's timeout (the diagram
	// shows the step's effective timeout on a line of its own).
	Label func(a *Action, field func(string) string) string
}

// KindField is one field of an action kind.
type KindField struct {
	Field    ActionField
	Required bool
	// Role is how the step uses the field when it names a state field;
	// "" for the other fields.
	Role FieldRole
}

// ActionField is a field of Action, by its JSON name.
type ActionField string

const (
	FieldService     ActionField = "service"
	FieldEndpoint    ActionField = "endpoint"
	FieldTopic       ActionField = "topic"
	FieldEvent       ActionField = "event"
	FieldRequest     ActionField = "request"
	FieldResponse    ActionField = "response"
	FieldCorrelate   ActionField = "correlate"
	FieldCorrelateOn ActionField = "correlate_on"
	FieldTimeout     ActionField = "timeout"
	FieldDuration    ActionField = "duration"
	FieldUntil       ActionField = "until"
	FieldWhen        ActionField = "when"
	FieldOtherwise   ActionField = "otherwise"
	FieldFlow        ActionField = "flow"
)

// fieldAccess reaches each ActionField of an Action: exactly one of str,
// id, dur and branches is set, by the field's Go type.
var fieldAccess = map[ActionField]struct {
	str      func(*Action) *string
	id       func(*Action) **Ident
	dur      func(*Action) *Duration
	branches func(*Action) *[]*Branch
}{
	FieldService:     {str: func(a *Action) *string { return &a.Service }},
	FieldEndpoint:    {str: func(a *Action) *string { return &a.Endpoint }},
	FieldTopic:       {str: func(a *Action) *string { return &a.Topic }},
	FieldEvent:       {str: func(a *Action) *string { return &a.Event }},
	FieldRequest:     {id: func(a *Action) **Ident { return &a.Request }},
	FieldResponse:    {id: func(a *Action) **Ident { return &a.Response }},
	FieldCorrelate:   {id: func(a *Action) **Ident { return &a.Correlate }},
	FieldCorrelateOn: {id: func(a *Action) **Ident { return &a.CorrelateOn }},
	FieldTimeout:     {dur: func(a *Action) *Duration { return &a.Timeout }},
	FieldDuration:    {dur: func(a *Action) *Duration { return &a.Duration }},
	FieldUntil:       {id: func(a *Action) **Ident { return &a.Until }},
	FieldWhen:        {branches: func(a *Action) *[]*Branch { return &a.When }},
	FieldOtherwise:   {id: func(a *Action) **Ident { return &a.Otherwise }},
	FieldFlow:        {id: func(a *Action) **Ident { return &a.Flow }},
}

// Needs is a set of what steps need from the runtime options.
type Needs uint8

const (
	NeedCaller     Needs = 1 << iota // runtime.WithCaller: calls services
	NeedPublisher                    // runtime.WithPublisher: publishes events
	NeedSubscriber                   // runtime.WithSubscriber: waits for events
)

// needOptions are the runtime options that provide each need, in order.
var needOptions = []struct {
	need   Needs
	option string
}{
	{NeedCaller, "runtime.WithCaller"},
	{NeedPublisher, "runtime.WithPublisher"},
	{NeedSubscriber, "runtime.WithSubscriber"},
}

// kinds is the table, in the order messages list the kinds.
var kinds = []*KindSpec{
	{
		Kind:        ActionGo,
		Noun:        "a Go step",
		SideEffects: true,
		Handler:     true,
		Label:       func(*Action, func(string) string) string { return "go" },
	},
	{
		Kind:    ActionRPC,
		Keyword: ident.KeywordRPC,
		Noun:    "an rpc",
		Fields: []KindField{
			{Field: FieldService, Required: true},
			{Field: FieldEndpoint, Required: true},
			{Field: FieldRequest, Role: RoleRequest},
			{Field: FieldResponse, Role: RoleResponse},
		},
		SideEffects: true,
		Rollback:    true,
		Needs:       NeedCaller,
		Label: func(a *Action, field func(string) string) string {
			return line(ident.KeywordRPC, a.Service, a.Endpoint) +
				opt(" (", a.Request, ")", field) + opt(" -> ", a.Response, "", field)
		},
	},
	{
		Kind:    ActionAwait,
		Keyword: ident.KeywordAwait,
		Noun:    "an await",
		Fields: []KindField{
			{Field: FieldTopic, Required: true},
			{Field: FieldEvent, Required: true},
			{Field: FieldResponse, Role: RoleResponse},
			{Field: FieldCorrelate, Role: RoleCorrelate},
			{Field: FieldCorrelateOn},
			{Field: FieldTimeout},
		},
		Waits: true,
		Needs: NeedSubscriber,
		Label: func(a *Action, field func(string) string) string {
			t := line(ident.KeywordAwait, a.Topic, a.Event) + opt(" -> ", a.Response, "", field)
			if a.Correlate != nil {
				t += opt(" correlate ", a.Correlate, "", field)
				if a.CorrelateOn != nil {
					// As in .flow: bare when an identifier, quoted otherwise.
					t += " on " + ident.Format(a.CorrelateOn.Name)
				}
			}
			return t
		},
	},
	{
		Kind:    ActionPublish,
		Keyword: ident.KeywordPublish,
		Noun:    "a publish",
		Fields: []KindField{
			{Field: FieldTopic, Required: true},
			{Field: FieldEvent, Required: true},
			{Field: FieldRequest, Role: RolePayload},
		},
		SideEffects: true,
		Needs:       NeedPublisher,
		Label: func(a *Action, field func(string) string) string {
			return line(ident.KeywordPublish, a.Topic, a.Event) + opt(" (", a.Request, ")", field)
		},
	},
	{
		// A durable timer: `sleep 336h` or `sleep until ReminderAt`. It has
		// one of its two fields, never both (Check). It changes nothing
		// outside the run, so it needs no rollback; publications after it
		// wakes are side effects of their own (Step.HasSideEffects).
		Kind:    ActionSleep,
		Keyword: ident.KeywordSleep,
		Noun:    "a sleep",
		Fields: []KindField{
			{Field: FieldDuration},
			{Field: FieldUntil, Role: RoleUntil},
		},
		Waits: true,
		// Its wake-up time is fixed when it is entered: only a
		// `sleep until` a field never set ends with error (runtime.Step.SleepError).
		Fails: func(a *Action) bool { return a.Until != nil },
		Label: func(a *Action, field func(string) string) string {
			if a.Until != nil {
				return ident.KeywordSleep + " " + ident.KeywordUntil + " " + field(a.Until.Name)
			}
			return ident.KeywordSleep + " " + a.Duration.String()
		},
	},
	{
		// A decision: `when <condition> -> Target` lines tried in order,
		// then `otherwise -> Target`. It reads the state and changes
		// nothing, so it needs no rollback; its outcomes are its branches
		// (runtime.ChoiceOutcome, runtime.OutcomeOtherwise), and its
		// targets are the only transitions it has (Flow.Outcomes). A
		// diagram draws it as a diamond with the conditions on its edges.
		Kind:    ActionChoose,
		Keyword: ident.KeywordChoose,
		Noun:    "a choose",
		Fields: []KindField{
			{Field: FieldWhen},
			{Field: FieldOtherwise},
		},
		Decides: true,
		Label:   func(*Action, func(string) string) string { return ident.KeywordChoose },
	},
	{
		// A child run: `call Billing (Invoice) -> Receipt` runs flow Billing
		// of the same file with the state field Invoice as its state, and
		// waits for its end; its final state goes to Receipt. The child's
		// steps do the work (each with its retry and timeouts), so the call
		// waits: it takes none of the flow's policies, and counts as a wait
		// in a cycle. It has side effects (the child's), so it needs a
		// rollback (`rollback call Refund (Receipt)`) or irreversible.
		Kind:    ActionCall,
		Keyword: ident.KeywordCall,
		Noun:    "a call",
		Fields: []KindField{
			{Field: FieldFlow, Required: true},
			{Field: FieldRequest, Role: RoleCallIn},
			{Field: FieldResponse, Role: RoleCallOut},
		},
		SideEffects: true,
		Waits:       true,
		Rollback:    true,
		Label: func(a *Action, field func(string) string) string {
			name := ""
			if a.Flow != nil {
				name = a.Flow.Name
			}
			return ident.KeywordCall + " " + name + opt(" (", a.Request, ")", field) + opt(" -> ", a.Response, "", field)
		},
	},
}

// line starts the .flow line of an action: its keyword, a service or topic
// name (bare when an identifier, quoted otherwise) and a string.
func line(keyword, name, str string) string {
	return keyword + " " + ident.Format(name) + " " + strconv.Quote(str)
}

// opt is a state field of an action line with its syntax around it, or ""
// when the field is not set.
func opt(before string, id *Ident, after string, field func(string) string) string {
	if id == nil {
		return ""
	}
	return before + field(id.Name) + after
}

var kindIndex = func() map[ActionKind]*KindSpec {
	m := make(map[ActionKind]*KindSpec, len(kinds))
	for _, k := range kinds {
		m[k.Kind] = k
	}
	return m
}()

// Kinds returns the specs of every action kind, in a fixed order.
func Kinds() []*KindSpec { return slices.Clone(kinds) }

// LookupKind returns the spec of kind k; false for a kind flowgen does not
// know ("" is not a kind: Step.Kind and Action.Spec read it as a Go step).
func LookupKind(k ActionKind) (*KindSpec, bool) {
	s, ok := kindIndex[k]
	return s, ok
}

// SpecOf returns the spec of kind k. A kind flowgen does not know (which
// only a model built by hand can have: DecodeJSON and flowfile.Build
// reject it, and so do the generator and the engine) gets a spec with no
// fields that has side effects and does not wait, labelled by its name
// (printed as Label prints a field).
func SpecOf(k ActionKind) *KindSpec {
	if s, ok := kindIndex[k]; ok {
		return s
	}
	if k == parallelSpec.Kind {
		return parallelSpec
	}
	return &KindSpec{
		Kind:        k,
		Noun:        "a " + string(k),
		SideEffects: true,
		Label:       func(_ *Action, field func(string) string) string { return field(string(k)) },
	}
}

// Spec is the spec of the action's kind; a nil action, or one without a
// kind, is a Go step.
func (a *Action) Spec() *KindSpec {
	if a == nil || a.Kind == "" {
		return kindIndex[ActionGo]
	}
	return SpecOf(a.Kind)
}

// Spec is the spec of the step's kind (Kind).
func (s *Step) Spec() *KindSpec { return SpecOf(s.Kind()) }

// inherits reports whether a step of kind k takes the flow's retry,
// timeout and deadline: it does work (not a wait, nor a decision, nor a
// parallel block, whose branches do the work).
func (k *KindSpec) inherits() bool { return !k.Waits && !k.Decides && k != parallelSpec }

// Has reports whether kind k has field f.
func (k *KindSpec) Has(f ActionField) bool {
	return slices.ContainsFunc(k.Fields, func(kf KindField) bool { return kf.Field == f })
}

// RequiredStrings returns the kind's required string fields (an rpc's
// service and endpoint), in order: an empty one names nothing.
func (k *KindSpec) RequiredStrings() []ActionField {
	var out []ActionField
	for _, f := range k.Fields {
		if f.Required && fieldAccess[f.Field].str != nil {
			out = append(out, f.Field)
		}
	}
	return out
}

// StringField returns the value of string field f of a ("" for a field
// that is not a string).
func (a *Action) StringField(f ActionField) string {
	if get := fieldAccess[f].str; get != nil {
		return *get(a)
	}
	return ""
}

// DurationField returns the value of duration field f of a (0 when unset
// or not a duration).
func (a *Action) DurationField(f ActionField) Duration {
	if get := fieldAccess[f].dur; get != nil {
		return *get(a)
	}
	return 0
}

// IdentField returns the value of name field f of a (nil when unset or
// not a name).
func (a *Action) IdentField(f ActionField) *Ident {
	if get := fieldAccess[f].id; get != nil {
		return *get(a)
	}
	return nil
}

// HasField reports whether field f of a is set.
func (a *Action) HasField(f ActionField) bool {
	acc := fieldAccess[f]
	switch {
	case acc.str != nil:
		return *acc.str(a) != ""
	case acc.id != nil:
		return *acc.id(a) != nil
	case acc.dur != nil:
		return *acc.dur(a) > 0
	case acc.branches != nil:
		return len(*acc.branches(a)) > 0
	}
	return false
}

// KindNames returns the JSON names of the kinds, in the table's order:
// all of them, or with rollback only those that can undo a step.
func KindNames(rollback bool) []string {
	var out []string
	for _, k := range kinds {
		if !rollback || k.Rollback {
			out = append(out, string(k.Kind))
		}
	}
	return out
}

// Has reports whether n includes every need of m.
func (n Needs) Has(m Needs) bool { return n&m == m }

// Options describes each need of n, in a fixed order, as the runtime option
// that provides it followed by the keywords of the kinds that need it:
// "runtime.WithCaller (rpc)". Publications after success need a publisher
// too.
func (n Needs) Options() []string {
	var out []string
	for _, o := range needOptions {
		if !n.Has(o.need) {
			continue
		}
		var words []string
		for _, k := range kinds {
			if k.Needs.Has(o.need) && k.Keyword != "" {
				words = append(words, k.Keyword)
			}
		}
		out = append(out, o.option+" ("+strings.Join(words, ", ")+")")
	}
	return out
}
