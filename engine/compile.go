package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/snippet"
	"github.com/flowgen/flowgen/runtime"
)

// JSON-defined flows run on runtime.Flow[State]: this file turns a checked
// dsl.Flow into runtime steps. Every policy and every transition comes from
// the dsl's resolved helpers (RetryFor and Retry.Policy, AttemptTimeoutFor,
// DeadlineFor, RollbackRetryFor, RollbackTimeoutFor, EdgesByStep),
// exactly as the code generator uses them, so a flow behaves the same
// whether it is generated Go or JSON run by the engine. Nothing here
// derives a policy from a step's fields itself.

// checkHandlers reports every Go step and Go rollback of f that no
// registered handler serves, positioned where the flow names it (for JSON
// input, its JSON path): an error, or with remote providers on a warning
// (rm.missing), since a provider may register after the flow. With
// noGo (Options.NoGoHandlers) the error says that none ever will here.
func checkHandlers(f *dsl.File, reg *Registry, rm *remote, noGo bool) diag.List {
	var ds diag.List
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		var blocks map[string]*dsl.Step // rm.missing's, once per flow
		if rm != nil {
			blocks = fl.BranchBlocks()
		}
		for _, m := range fl.GoMethods() {
			kind, verb := "Go step", "Registry.Step"
			if m.Rollback {
				kind, verb = "Go rollback", "Registry.Rollback"
			}
			if reg.has(handlerKey{flow: fl.Name, name: m.Name, rollback: m.Rollback}) {
				continue
			}
			if rm != nil {
				ds = append(ds, rm.missing(fl, blocks, m, kind)...)
				continue
			}
			if noGo {
				ds = append(ds, diag.Errorf(m.Range, "no-handler", "%s %q of flow %q cannot run here: this server serves no Go handlers", kind, m.Name, fl.Name).
					WithHint("run the flow on flowgen serve, whose remote providers serve Go steps and rollbacks (docs/engine.md#remote-providers), or generate it (flowgen gen -target temporal) and register its activities on your worker (docs/temporal.md)"))
				continue
			}
			ds = append(ds, diag.Errorf(m.Range, "no-handler", "no handler registered for %s %q of flow %q", kind, m.Name, fl.Name).
				WithHint("register it before loading the flow: %s(%q, fn) in a Provider, or %s(%q, fn)", verb, fl.Name+"."+m.Name, verb, m.Name))
		}
	}
	return ds
}

// await is the runtime wait of await step s of fl: the event, the state
// field whose value it matches at the payload path the flow names (or
// runtime.CorrelationField), and the await's timeout (the step's deadline is
// the step's own; the runtime waits for the earlier of the two).
func await(fl *dsl.Flow, s *dsl.Step) *runtime.Await[State] {
	a := s.Action
	w := &runtime.Await[State]{Topic: a.Topic, Event: a.Event, Field: a.CorrelateOn.String(), Timeout: fl.TimeoutFor(s)}
	if a.Correlate != nil {
		// The field compares as an event's member does (runtime.Correlation):
		// a null field is "null", which an event's null member matches, and
		// not "", which an empty string's would.
		field := a.Correlate.Name
		w.CorrelateField = field // an empty value fails the step (runtime.Step.CorrelationError)
		w.Correlate = func(s *State) string { return runtime.CorrelationText(s.Raw(field)) }
		w.CorrelateBefore = func(s *State) string { return s.String(field) }
	}
	return w
}

// awaitExec stores the payload of the event an await step got into the
// state field its flow names (-> Field); without one, it discards it.
func awaitExec(a *dsl.Action) func(ctx context.Context, s *State) (runtime.Outcome, error) {
	if a.Response == nil {
		return nil
	}
	field := a.Response.Name
	return func(ctx context.Context, s *State) (runtime.Outcome, error) {
		s.setRaw(field, runtime.EventPayload(ctx))
		return runtime.OutcomeOK, nil
	}
}

// sleep is the runtime sleep of a sleep action: its duration, or until the
// time in the state field it names, read when the step is entered as
// encoding/json reads a time.Time (an RFC 3339 string, the form a Go
// time.Time takes in a snapshot). A field that is missing, null or not
// such a string reads as the zero time, with which the runtime ends the
// step with the outcome error; Invalid tells the last apart, so that the
// error shows the value (cut to shownBytes, as it comes from outside)
// rather than say the time was never set.
func sleep(a *dsl.Action) *runtime.Sleep[State] {
	if a.Until == nil {
		return &runtime.Sleep[State]{For: time.Duration(a.Duration)}
	}
	field := a.Until.Name
	return &runtime.Sleep[State]{Field: field, Until: func(s *State) time.Time {
		var t time.Time
		if err := s.Get(field, &t); err != nil {
			return time.Time{}
		}
		return t
	}, Invalid: func(s *State) error {
		raw := s.Raw(field)
		var t time.Time
		if raw == nil || json.Unmarshal(raw, &t) == nil { // null reads as the zero time too
			return nil
		}
		var shown string
		if str := ""; json.Unmarshal(raw, &str) == nil {
			shown = snippet.Quote(str, shownBytes)
		} else {
			var b bytes.Buffer
			_ = json.Compact(&b, raw) // the state holds valid JSON
			shown = snippet.Cut(b.String(), shownBytes)
		}
		return fmt.Errorf("the value %s is not a time in RFC 3339, such as \"2006-01-02T15:04:05Z\"", shown)
	}}
}

// conditions are the conditions of a choose action, evaluated on the JSON
// state by dsl.Cond.Eval: a field of another type than its literal's ends
// the step with the outcome error, naming the field.
func conditions(a *dsl.Action) []func(s *State) (bool, error) {
	out := make([]func(s *State) (bool, error), len(a.When))
	for i, b := range a.When {
		cond := b.When
		out[i] = func(s *State) (bool, error) { return cond.Eval(s.Raw) }
	}
	return out
}

// compile builds the runtime definition of fl, which Check and
// checkHandlers passed.
func (e *Engine) compile(fl *dsl.Flow) (*runtime.Flow[State], error) {
	return e.compileWith(fl, nil)
}

// compileWith is compile with opts after the engine's runtime options.
func (e *Engine) compileWith(fl *dsl.Flow, opts []runtime.Option) (*runtime.Flow[State], error) {
	base := e.RuntimeOptions()
	if e.remote != nil { // provider waits; every other wait goes to the inbox
		base = append(base, runtime.WithSubscriber(e.remote.subscriber(fl, subscriber{e})))
	}
	base = append(base, e.opts.RuntimeOptions...)
	f := runtime.New[State](fl.Name, append(base, opts...)...)
	lk := lookups{blocks: fl.BranchBlocks(), edges: fl.EdgesByStep()}
	steps := make([]*runtime.Step[State], 0, len(fl.Steps))
	for _, s := range fl.Steps {
		if s == nil {
			continue
		}
		compile := e.step
		if s.IsBlock() {
			compile = e.block
		}
		st, err := compile(fl, lk, s)
		if err != nil {
			return nil, err
		}
		steps = append(steps, st)
	}
	if err := f.Register(steps...); err != nil {
		return nil, fmt.Errorf("flow %q: %w", fl.Name, err)
	}
	return f, nil
}

// lookups are what compiling asks about every step of a flow, computed
// once per flow: a search of the flow per step (as dsl.Flow.StepEdges
// does) would be quadratic in its steps.
type lookups struct {
	blocks map[string]*dsl.Step     // dsl.Flow.BranchBlocks
	edges  map[*dsl.Step][]dsl.Edge // dsl.Flow.EdgesByStep
}

// step compiles step s of fl (not a block).
func (e *Engine) step(fl *dsl.Flow, lk lookups, s *dsl.Step) (*runtime.Step[State], error) {
	st := &runtime.Step[State]{
		ID:           s.Name,
		Irreversible: s.Irreversible,
		Next:         map[runtime.Outcome]string{},
		Retry:        fl.RetryFor(s).Policy(),
		// An await's timeout bounds its wait (runtime.Await.Timeout),
		// not attempts: AttemptTimeoutFor is 0 for it.
		Timeout:  fl.AttemptTimeoutFor(s),
		Deadline: fl.DeadlineFor(s),
	}
	// The switch names every kind and has no default, so that
	// internal/kinds's test reports it when a kind is added; a kind
	// the table does not know is refused first.
	if _, ok := dsl.LookupKind(s.Kind()); !ok {
		return nil, fmt.Errorf("flow %q: step %q: the engine cannot run a step of kind %q", fl.Name, s.Name, s.Kind())
	}
	a := s.Action
	switch s.Kind() {
	case dsl.ActionRPC:
		st.Exec = e.rpcExec(a)
	case dsl.ActionPublish:
		st.Exec = e.publishExec(a)
	case dsl.ActionAwait:
		st.Await = await(fl, s)
		st.Exec = awaitExec(a)
	case dsl.ActionSleep:
		st.Sleep = sleep(a) // nothing runs after it but publications
	case dsl.ActionChoose:
		st.Exec = runtime.NewChoice(s.Name, conditions(a)).Exec
	case dsl.ActionCall:
		// Run by name: the engine's childRuns (runtime.WithChildren).
		st.Call = &runtime.FlowCall[State]{Flow: a.Flow.Name, Input: callInput(a.Request.String()), Runs: childRuns{e}}
		st.Exec = callExec(a.Response.String())
	case dsl.ActionGo:
		if e.remote != nil && !e.reg.has(handlerKey{flow: fl.Name, name: s.Name}) {
			e.remote.remoteStep(fl, s, lk.blocks[s.Name], st) // remotecall.go
			break
		}
		h := e.reg.lateStep(fl.Name, s.Name)
		st.Exec = func(ctx context.Context, state *State) (runtime.Outcome, error) { return h(ctx, state) }
	}
	if rb := s.Rollback; rb != nil {
		if rb.IsGo() && e.remote != nil {
			e.remote.remoteRollback(fl, s, rb.Name.Name, st) // remotecall.go
		} else if rb.IsGo() {
			h := e.reg.lateRollback(fl.Name, rb.Name.Name)
			st.Rollback = func(ctx context.Context, state *State) error { return h(ctx, state) }
		} else if rb.Action != nil && rb.Action.Kind == dsl.ActionCall {
			runtime.WithRollbackCallBy(childRuns{e}, rb.Action.Flow.Name, callInput(rb.Action.Request.String()))(st)
		} else if rb.Action != nil {
			exec := e.rpcExec(rb.Action)
			st.Rollback = func(ctx context.Context, state *State) error {
				_, err := exec(ctx, state)
				return err
			}
		}
		st.RollbackRetry = fl.RollbackRetryFor(s).Policy()
		st.RollbackTimeout = fl.RollbackTimeoutFor(s)
	}
	for _, p := range s.Publish {
		if p == nil {
			continue
		}
		field := p.Payload.String()
		st.Publish = append(st.Publish, runtime.Publication[State]{
			Topic: p.Topic, Event: p.Event,
			Payload: func(s *State) any { return payloadOf(s, field) },
		})
	}
	next(lk.edges[s], st)
	return st, nil
}

// next routes the outcomes of a step as its edges say (a branch has none:
// branches do not route).
func next(edges []dsl.Edge, st *runtime.Step[State]) {
	for _, edge := range edges {
		st.Next[edge.Outcome] = edge.To // dsl.TargetDone/Fail are runtime.Done/Fail
	}
}

// payloadOf is the JSON of a state field for a request or a publication:
// null when no field is named or the field is not set.
func payloadOf(s *State, field string) json.RawMessage {
	if field == "" {
		return json.RawMessage("null")
	}
	if raw := s.Raw(field); raw != nil {
		return raw
	}
	return json.RawMessage("null")
}

func (e *Engine) rpcExec(a *dsl.Action) func(ctx context.Context, s *State) (runtime.Outcome, error) {
	service, endpoint := a.Service, a.Endpoint
	req, rsp := a.Request.String(), a.Response.String()
	return func(ctx context.Context, s *State) (runtime.Outcome, error) {
		// LoadFlows refuses flows that call services without a Caller.
		var out json.RawMessage
		var into any
		if rsp != "" {
			into = &out
		}
		if err := e.caller.Call(ctx, service, endpoint, payloadOf(s, req), into); err != nil {
			return "", err
		}
		if rsp != "" {
			if len(out) == 0 {
				out = json.RawMessage("null")
			}
			if err := s.Set(rsp, out); err != nil {
				return "", runtime.Permanent(fmt.Errorf("response of %s %s: %w", service, endpoint, err))
			}
		}
		return runtime.OutcomeOK, nil
	}
}

func (e *Engine) publishExec(a *dsl.Action) func(ctx context.Context, s *State) (runtime.Outcome, error) {
	topic, event, field := a.Topic, a.Event, a.Request.String()
	return func(ctx context.Context, s *State) (runtime.Outcome, error) {
		return runtime.OutcomeOK, e.publisher.Publish(ctx, topic, event, payloadOf(s, field))
	}
}
