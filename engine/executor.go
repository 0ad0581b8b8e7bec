package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Executor runs the engine's JSON flows somewhere else than the engine's
// own runtime and store: flowgen's Temporal module (temporal/jsonflows)
// runs them as Temporal workflows. With Options.Executor set, the engine
// keeps what is the engine's: loading, checking and saving JSON flows, the
// HTTP API with its access control and its checks of names, states and
// payloads; and it hands each run, event and trigger to the executor. The
// engine then starts no run itself, keeps no store (Options.Store may be
// nil), resumes nothing and consumes no broker; generated flows cannot be
// registered. An error of a method because the executor's service did not
// answer wraps ErrUnavailable.
type Executor interface {
	// Attach is told each JSON flow as it is registered or replaced (a
	// replacement is attached after its old entry is stopped, and the old
	// one attached again if the change is refused), before the
	// registration commits: an error refuses the change. An executor
	// that is not a TriggerKeeper starts its triggers other than rpc
	// (schedules) here; a TriggerKeeper, whose triggers the cluster
	// keeps, only checks that it can start them (Activate starts them,
	// once the change commits). stop is called when the flow is replaced
	// or the engine closes.
	Attach(ctx context.Context, f ExecFlow) (stop func(), err error)
	// Start starts a run of f from state (the run's initial state as the
	// runtime encodes it) under runID. A run ID that exists starts
	// nothing: an error wrapping ErrRunExists for a run of f started from
	// the same state, ErrIdempotencyMismatch for another state,
	// ErrRunIDTaken for a run of another flow.
	Start(ctx context.Context, f ExecFlow, state json.RawMessage, runID string) error
	// Publish applies an event, durably before it returns: it starts the
	// runs of the flows it triggers (run IDs EventRunID, initial states
	// EventState), and keeps it for the awaits of the flows (awaiting)
	// that wait for it, now or later. A message ID seen before is applied
	// once.
	Publish(ctx context.Context, m Message, triggered []EventStart, awaiting []ExecFlow) (Published, error)
	// Abort, History and Runs are the engine's methods of the same names.
	// Runs that stops reading before it has seen every run that could
	// match (a bound on what one call reads) returns the runs it found and
	// an error wrapping ErrListTruncated.
	Abort(ctx context.Context, runID string) error
	History(ctx context.Context, runID string) ([]runtime.Event, error)
	Runs(ctx context.Context, f store.Filter) ([]store.RunInfo, error)
}

// HistoryPager is an Executor that reads a page of a run's history where
// the history lives, without sending the rest (jsonflows: a query of the
// run's workflow), for GET /runs/{id}/history: the events after seq
// after, at most limit of them and maxBytes of their states, payloads and
// errors (store.Page's rule), and whether more follow. It may answer a
// smaller page than asked, with more true, where what one answer can carry
// is bounded (a Temporal query's result). An Executor without it has its
// whole history read (Executor.History), then cut.
type HistoryPager interface {
	HistoryPage(ctx context.Context, runID string, after uint64, limit, maxBytes int, states bool) ([]runtime.Event, bool, error)
}

// TriggerKeeper is an Executor whose triggers outlive the process that
// attached them: jsonflows' Temporal Schedules, which every process that
// serves the flows shares, and which stop leaves in place. Since what it
// does to them is seen outside the process at once (a schedule's tick
// starts a run), the engine tells it of a change of flows only once the
// change is committed (saved and registered), as it starts its own
// schedules (activate): a refused change has not touched them. An
// operator's change accepted (LoadFlows, PUT /flows) also drops the
// triggers its flows no longer have. Loading the flows directory (LoadDir,
// at start) drops nothing: other processes may still serve older files.
//
// The change is committed when they are told: an error cannot refuse it
// any more. The engine logs it, and the keeper keeps trying in the
// background until it succeeds or the flow's attachment stops (the flow
// replaced, the engine closed), so that the cluster comes to agree with
// the flows registered.
type TriggerKeeper interface {
	// Activate is told, once the registration of f is committed (on a
	// started engine; at Start for the flows registered before), to
	// start f's triggers outside the process, or point those another
	// process made at f's definition.
	Activate(ctx context.Context, f ExecFlow) error
	// Replaced is told, once a change by LoadFlows is committed (after
	// Activate of its flows), each flow it replaced (old) with its new
	// definition (now): the triggers of old that now does not have are
	// gone for good.
	Replaced(ctx context.Context, old, now ExecFlow) error
}

// AbortRequester is an Executor that can say whether a run has an abort
// accepted (Abort) that the run has not recorded yet, as its step in
// flight has not returned: GET /runs/{id} then says abort_requested, as
// for the engine's own runs (RunStatus.AbortRequested, by the rule of
// AbortPending). jsonflows asks Temporal whether the run's workflow has a
// cancellation requested.
type AbortRequester interface {
	AbortRequested(ctx context.Context, runID string) (bool, error)
}

// EndReporter is an Executor whose runs can end without their history
// recording it: jsonflows' workflow terminated or timed out from outside
// flowgen (an operator's `temporal workflow terminate`), whose history
// stops where it was, "waiting" say, while the executor lists the run as
// it ended (Runs). GET /runs/{id} of a run whose history is not over asks
// it, so that the run's status says what the list says
// (runtime.Status.EndedOutside).
type EndReporter interface {
	// EndedOutside returns the terminal state of run runID when it ended
	// without its history recording the end, by the rule its Runs lists it
	// with, and why (the run's error); "" while the run goes on, or when
	// its history records its end.
	EndedOutside(ctx context.Context, runID string) (end runtime.RunState, why string, err error)
}

// executorAborts is the AbortRequests of an AbortRequester, asked under
// ctx; err is the error of its last answer.
type executorAborts struct {
	ctx context.Context
	x   AbortRequester
	err error
}

func (a *executorAborts) AbortRequested(runID string) bool {
	requested, err := a.x.AbortRequested(a.ctx, runID)
	a.err = err
	return requested
}

// ErrUnavailable marks an Executor's error when the service the runs
// execute on did not answer (jsonflows: the Temporal cluster is down,
// unreachable or too slow): the request may succeed later. The API answers
// 503 with Retry-After (UnavailableRetryAfter), and, as for a 500, the
// error whole (which names the service's address) goes to the log only.
var ErrUnavailable = errors.New("engine: the service the runs execute on is unavailable")

// UnavailableRetryAfter is what a request that failed with ErrUnavailable
// answers in the Retry-After header, in seconds: an outage of a cluster
// lasts longer than a burst of starts (RetryAfter).
const UnavailableRetryAfter = 5

// ExecFlow is a registered JSON flow as an Executor sees it.
type ExecFlow struct {
	Name string
	// Source is the flow's JSON document (FlowJSON), from which CompileJSON
	// builds the definition; Hash (DefinitionHash) pins it.
	Source   []byte
	Hash     string
	Triggers []runtime.Trigger
	// Awaits are the steps that wait for events.
	Awaits []runtime.Wait
}

// EventStart is a run that an event starts.
type EventStart struct {
	Flow  ExecFlow
	RunID string
	State json.RawMessage // the run's initial state, as the runtime encodes it
	// OlderRunID is the ID an older version gave the run of this message
	// (the flow and the message ID alone): a run of Flow under it is the
	// message's run, started before the upgrade, so the executor starts
	// none under RunID, as the engine's own event path does (eventRun).
	OlderRunID string
}

// DefinitionHash is the hash that pins a JSON flow's definition: the
// SHA-256, in hex, of its JSON document.
func DefinitionHash(source []byte) string {
	sum := sha256.Sum256(source)
	return hex.EncodeToString(sum[:])
}

// CompileJSON builds the runtime definition of the one flow of a JSON
// document (FlowJSON's form), checked as LoadFlows checks it, with this
// engine's handlers, Caller and Publisher, and opts after the engine's own
// options: what an Executor runs a pinned definition with, whether or not
// the flow is registered here now.
func (e *Engine) CompileJSON(source []byte, opts ...runtime.Option) (*runtime.Flow[State], error) {
	// Its calls run flows of the engine by name, checked with the flows
	// they were loaded with.
	f, ds := dsl.LoadJSON("definition.json", source, dsl.CheckOptions{CallsByName: true})
	if f != nil && !ds.HasErrors() {
		ds = append(ds, checkHandlers(f, e.reg, e.remote, e.opts.NoGoHandlers)...)
		ds = append(ds, e.checkCaller(f)...)
	}
	if f == nil || ds.HasErrors() {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, firstError(ds))
	}
	if len(f.Flows) != 1 || f.Flows[0] == nil {
		return nil, fmt.Errorf("%w: a pinned definition holds one flow, found %d", ErrInvalid, len(f.Flows))
	}
	return e.compileWith(f.Flows[0], opts)
}

var errExecutorOnly = errors.New("engine: Options.Executor runs JSON flows only; run generated flows with their own target")

// execFlow is fe as the executor sees it.
func (fe *flowEntry) execFlow() ExecFlow {
	x := ExecFlow{Name: fe.name, Source: fe.source, Hash: DefinitionHash(fe.source), Triggers: fe.triggers}
	for _, s := range fe.def.Steps {
		if s != nil && s.Spec().Needs.Has(dsl.NeedSubscriber) {
			w := runtime.Wait{Topic: s.Action.Topic, Event: s.Action.Event, Field: s.Action.CorrelateOn.String()}
			w.Correlated = s.Action.Correlate != nil
			x.Awaits = append(x.Awaits, w)
		}
	}
	return x
}

// EventState is the initial state of a run of a JSON flow that an event
// starts: the payload's members when it is an object, else {"payload": it}.
func EventState(payload json.RawMessage) json.RawMessage {
	p := strings.TrimSpace(string(payload))
	if strings.HasPrefix(p, "{") {
		return payload
	}
	if p == "" {
		p = "null"
	}
	return json.RawMessage(`{"payload":` + p + `}`)
}

// publishToExecutor is PublishEvent with an Executor: the same checks, then the
// executor applies the event.
func (e *Engine) publishToExecutor(ctx context.Context, m Message) (Published, error) {
	triggered, _ := e.consumersOf(m.Topic, m.Event)
	starts := make([]EventStart, 0, len(triggered))
	for _, fe := range triggered {
		state, err := fe.ops.initialState(eventState(fe, m.Payload))
		if err != nil {
			return Published{}, startRefusal(fe, m, err)
		}
		starts = append(starts, EventStart{Flow: fe.execFlow(), RunID: EventRunID(fe.name, m.Topic, m.Event, m.ID), State: state,
			OlderRunID: olderEventRunID(fe.name, m.ID)})
	}
	var awaiting []ExecFlow
	e.mu.Lock()
	for _, fe := range e.flows {
		if slices.Contains(fe.awaits, [2]string{m.Topic, m.Event}) {
			awaiting = append(awaiting, fe.execFlow())
		}
	}
	e.mu.Unlock()
	if len(starts) == 0 && len(awaiting) == 0 {
		// The executor keeps an event only for the flows named here (an
		// inbox of each awaiting one): nothing would keep this one, and
		// a 2xx is only for what is kept.
		return Published{}, noConsumerError(m)
	}
	slices.SortFunc(awaiting, func(a, b ExecFlow) int { return strings.Compare(a.Name, b.Name) })
	return e.opts.Executor.Publish(ctx, m, starts, awaiting)
}
