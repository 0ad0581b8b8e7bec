// Package engine runs flows as a service: it registers generated flows and
// JSON-defined flows, starts runs on their triggers (an HTTP/JSON API, broker
// events, schedules), resumes interrupted runs from a durable store when it
// starts, serves the runs that wait for events from a durable inbox (a
// waiting run holds no goroutine), and stops gracefully at step boundaries.
// See docs/engine.md.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/ratelog"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Store is what the engine needs of a durable store: *store.Store (on disk)
// and *store.Memory (tests) implement it. Runs' events go to Emit, which
// must reject an event that does not follow its run's history
// (store.ErrSequence): the engine relies on that to start a run, or apply an
// event, at most once. An abort the engine accepts is a request in the store
// (RequestAbort, durable when it returns) until the run is over: a resume of
// the run while AbortRequested resumes it aborted (the runtime's rule for a
// sink that keeps abort requests, which the runs' sink, the store, is).
type Store interface {
	runtime.Sink
	runtime.AbortRecorder
	Load(runID string) ([]runtime.Event, error)
	Get(runID string) (store.RunInfo, bool)
	List(f store.Filter) ([]store.RunInfo, error)
}

// Errors of the engine's API; the HTTP API maps them to status codes.
var (
	ErrUnknownFlow = errors.New("engine: unknown flow")
	ErrFlowExists  = errors.New("engine: flow already registered")
	ErrNoTrigger   = errors.New("engine: flow has no such trigger")
	ErrBadState    = errors.New("engine: invalid state")
	ErrNoHandler   = errors.New("engine: no handler")
	ErrClosed      = errors.New("engine: closed")
	ErrInvalid     = errors.New("engine: invalid flow definition")
	// ErrConflict: the definition conflicts with what the engine holds
	// (a run in progress it does not fit, an rpc endpoint another flow
	// has, a generated flow of its name, another file of the flows
	// directory); the error says which.
	ErrConflict = errors.New("engine: definition conflicts with what the engine holds")
)

// Options configure an Engine. Store is required.
type Options struct {
	// Store keeps every run's history; the engine resumes unfinished runs
	// from it when it starts.
	Store Store
	// Inbox keeps awaited events until a run takes them (so that an event
	// delivered twice is applied once), and the dead letters. Default:
	// Store, which must then implement InboxStore (*store.Store and
	// *store.Memory do).
	Inbox InboxStore
	// InboxRetention is how long the inbox keeps a message that no run has
	// taken, counted from its arrival, and a claimed one, counted from its
	// claim; then the message expires: recorded, dropped, never delivered
	// (and its ID is new again). Default DefaultInboxRetention (24h).
	InboxRetention time.Duration
	// DeadLetterRetention is how long dead letters stay listed
	// (GET /deadletters) before they expire. Default
	// DefaultDeadLetterRetention (7 days).
	DeadLetterRetention time.Duration
	// MaxDeadLetters bounds the dead letters the inbox keeps: beyond it,
	// the oldest are dropped (their expiry recorded) before
	// DeadLetterRetention ends, and a log line says how many. Each costs
	// an entry in the inbox's index and the store's in memory, however
	// small its payload: without a bound, a publisher flooding a topic
	// with payloads that cannot be applied grew them for a week. Default
	// DefaultMaxDeadLetters (10,000).
	MaxDeadLetters int
	// InboxBytes bounds the events the inbox holds, in memory, for runs to
	// take (pending ones; claimed ones are read back from the store): each
	// counts its payload, topic, event and ID, and InboxMessageOverhead
	// for its records. Beyond it PublishEvent fails with ErrInboxFull
	// (HTTP 429) before anything changes, and the broker's awaited events
	// are delivered again later. Default DefaultInboxBytes (256 MiB).
	InboxBytes int64
	// Broker carries events (default: a MemoryBroker of this engine, with
	// the default MemoryBrokerOptions and Logger).
	Broker Broker
	// Caller makes the rpc steps' requests (for example httpcall.New).
	// Without one, rpc steps fail with runtime.ErrNotConfigured.
	Caller runtime.Caller
	// Clock is the source of time for runs, await timeouts and schedules
	// (default: the wall clock).
	Clock runtime.Clock
	// Locker serialises the engines that share a store: at most one runs a
	// given run at a time. Default: a lock of this engine alone; engines
	// sharing a store in one process share one NewLocker().
	Locker Locker
	// ID names this engine to the broker: its await consumer is
	// "await-<ID>", so an engine that restarts with the same ID gets the
	// events that arrived while it was down. Default "engine". Engines
	// that share a broker each need their own: consumers of one name share
	// the messages, so the awaited events would be split between them.
	// Start fails for an ID that another engine sharing the Locker holds,
	// and, on a Broker that holds IDs across processes (IDClaimer:
	// natsbus), for one another process holds.
	ID string
	// OnIDLost, if set, is called once, on a goroutine of its own, when
	// another process has taken the engine's ID on the broker while it
	// ran (IDClaimer: the broker unreachable longer than the hold lasts,
	// and another process of the same ID started meanwhile); the engine
	// logs it at error level in any case. Both processes then consume the
	// awaited events, each getting a share: flowgen serve stops, and says
	// why.
	OnIDLost func(error)
	// FlowsDir, if set, is where JSON flows registered through the API are
	// saved (one <flow>.json file per flow), and LoadDir reads them back.
	FlowsDir string
	// Authorizer, if set, decides who may use each route of Handler (the
	// role each needs is in Routes): 401 without valid credentials, 403
	// for a role that is not enough. NewTokenAuth reads bearer tokens from
	// a file. Without one the HTTP API is open to whoever reaches it: bind
	// it to loopback, or put access control in front of it.
	Authorizer Authorizer
	// MaxBody caps the request bodies of Handler, in bytes: a larger one
	// answers 413. Default MaxBody (1 MiB).
	MaxBody int64
	// ResumeWorkers is how many unfinished runs Start resumes at a time,
	// in the background: the engine serves while it resumes them
	// (WaitResumed waits for them). Default DefaultResumeWorkers.
	ResumeWorkers int
	// MaxRunning bounds the runs in flight (holding a goroutine; waiting
	// runs hold none) that the engine starts: beyond it a start fails with
	// ErrBusy (HTTP 429 with Retry-After), and an event trigger's event is
	// delivered again later. Default DefaultMaxRunning. See inflight.go.
	MaxRunning int
	// EventWorkers is how many events of each event trigger the engine
	// applies at once (consumers of the broker sharing the trigger's
	// name; eventworkers.go). Default DefaultEventWorkers; at most
	// MaxRunning, as a consumer beyond the runs in flight could only be
	// refused.
	EventWorkers int
	// Logger receives what is not an event: failed deliveries, runs that
	// cannot resume, API requests the Authorizer refused (at most
	// RefusalLogBurst a RefusalLogInterval). Default: discard.
	Logger *slog.Logger
	// MaxHistory bounds the events of each run's history (a run that
	// reaches it fails and is compensated: runtime.WithMaxHistory). Default
	// runtime.DefaultMaxHistory (25,000). Generated flows registered with
	// Register take it from RuntimeOptions() too.
	MaxHistory int
	// RuntimeOptions are added to the options of the JSON flows' runtime
	// definitions (after the engine's own).
	RuntimeOptions []runtime.Option
	// FlowFile, if set, reads and checks a source that is not JSON (a
	// .flow file) for LoadFlows and LoadDir, with the check options the
	// engine gives (the flows its calls may run); `flowgen serve` sets it
	// to dsl/flowfile.Load. Without it the engine loads the JSON form
	// only, and a program that embeds it links no .flow parser; LoadDir
	// then skips *.flow files, which JSONOnly as FlowFile refuses instead.
	FlowFile func(filename string, src []byte, opts dsl.CheckOptions) (*dsl.File, diag.List)
	// Executor, if set, runs the JSON flows instead of the engine
	// (executor.go); Store is then optional and unused.
	Executor Executor
	// Telemetry, if set, traces runs and keeps metrics (observe.New),
	// served at GET /metrics; see docs/observability.md. Without it the
	// engine pays nothing for either, and GET /metrics answers 404.
	Telemetry Telemetry
	// Providers, if set, turns remote providers on: services register the
	// Go steps and Go rollbacks of JSON flows through the API (PUT
	// /providers/{name}) and serve them over HTTP or NATS; a JSON flow
	// whose Go handlers have no provider yet is then loaded with a warning.
	// See docs/engine.md#remote-providers.
	Providers *ProviderOptions
	// NoGoHandlers says that no Go handler will serve this engine's flows:
	// its program registers none (Registry) and has no Providers, as
	// flowgen-temporal serve. A flow with a Go step or a Go rollback is
	// then refused with an error that says so, and where such a flow can
	// run, not with the hint to register a handler, which nobody could.
	// New refuses it with Providers.
	NoGoHandlers bool
	// MaxWatchers bounds the GET /watch streams open at once (503
	// beyond; a caller the Authorizer names, by its Identity.ID, may hold
	// a WatchShare-th of them); WatchBuffer, the events queued for one of them,
	// and WatchBytes, those events' bytes (their JSON, with the runs'
	// states unless the stream asked state=false; an event larger alone
	// is queued when nothing else is): a stream that falls further behind
	// ends with an "overflow" event. Defaults DefaultMaxWatchers (64),
	// DefaultWatchBuffer (256) and DefaultWatchBytes (32 MiB). See watch.go.
	MaxWatchers, WatchBuffer, WatchBytes int
}

// Engine runs flows. Create it with New, register flows and handlers, then
// Start it; Close stops it gracefully.
type Engine struct {
	opts      Options
	store     Store
	clock     runtime.Clock
	caller    runtime.Caller
	broker    Broker
	publisher runtime.Publisher
	locker    Locker
	idUnlock  func() // the Locker's hold of opts.ID, and the broker's (claimID)
	log       *slog.Logger
	reg       *Registry
	refusals  *refusalLog     // refused API requests (refusallog.go)
	deadLog   *ratelog.Logger // event triggers' dead letters (DeadLetterLogBurst)

	// loadMu serialises the changes of the registered flows (LoadFlows,
	// LoadDir, RegisterFlow) and Start: a document is checked against the
	// flows it will be registered beside. Taken before mu.
	loadMu sync.Mutex
	// flowsPublished, if set, runs when a load has registered its flows:
	// a test seam (TestProviderRegistrationOrderedWithLoads).
	flowsPublished func()

	mu      sync.Mutex
	flows   map[string]*flowEntry
	rpc     map[string]*flowEntry // rpc trigger endpoint -> flow
	started bool
	closed  bool

	baseCtx  context.Context
	cancel   context.CancelFunc
	active   sync.WaitGroup // runs live in this engine (running or waiting)
	bg       sync.WaitGroup // background hand-overs of awaited events
	draining atomic.Bool
	// attaching counts the registrations (and the Start) starting flows'
	// consumers: Close waits for them, as they find it closed and stop
	// what they started (attach), so that nothing outlives Close.
	attaching sync.WaitGroup
	// publishing counts the PublishEvent calls under way, counted in
	// before Close starts (enterPublish): Close waits for them, since one
	// past its broker's publication is finished and answered as applied
	// (events.go), and its store must stay open until then.
	publishing sync.WaitGroup

	liveMu sync.Mutex
	live   map[string]*liveRun // by run ID: the runs this engine drives

	running        atomic.Int64                       // runs in flight (inflight.go)
	refusedStarts  [len(refusalSources)]atomic.Uint64 // by bounded admission (inflight.go)
	endInFlight    func()                             // unregisters inFlight from the Telemetry (Start, Close)
	lastRefusedLog atomic.Int64
	resuming       atomic.Int64 // runs found at start not resumed yet (resume.go)
	rs             resumeState
	watch          *watchHub // GET /watch streams (watch.go)

	in *inbox // awaited events (inbox.go)
	ws *waits // waits no message has come for yet (subscriber.go)
	sc *scheduler

	remote *remote // Options.Providers (remote.go); nil when off
}

// flowEntry is a registered flow, generated or JSON.
type flowEntry struct {
	name     string
	ops      flowOps
	triggers []runtime.Trigger
	awaits   [][2]string // topic/event pairs its await steps wait for
	def      *dsl.Flow   // JSON flows only
	model    *dsl.Flow   // generated flows that carry it (Modeled): drawn, not run
	source   []byte      // JSON flows: the flow's own JSON document
	files    []string    // JSON flows: the files that define it (LoadDir, or saved by LoadFlows); under loadMu
	stops    []func()
	opened   []teKey // the inbox consumers its attach started (none was there): undo stops them
	// live: its registration is committed and the engine started (Start
	// succeeded), so its event triggers start runs (triggerHandler). Its
	// consumers start before (attach): what they deliver meanwhile is
	// delivered again later, so that a registration refused part-way, or
	// a Start that fails, has started no run.
	live atomic.Bool
}

// New returns an engine; it does nothing until Start.
func New(opts Options) (*Engine, error) {
	if opts.NoGoHandlers && opts.Providers != nil {
		return nil, errors.New("engine: Options.NoGoHandlers with Options.Providers, which serve Go handlers")
	}
	if opts.Store == nil && opts.Executor != nil {
		opts.Store = store.NewMemory() // holds nothing: the executor keeps the runs
	}
	if opts.Store == nil {
		return nil, errors.New("engine: Options.Store is required")
	}
	if opts.Inbox == nil {
		in, ok := opts.Store.(InboxStore)
		if !ok {
			return nil, errors.New("engine: Options.Inbox is required: Options.Store does not keep an inbox (InboxStore)")
		}
		opts.Inbox = in
	}
	if opts.Clock == nil {
		opts.Clock = runtime.RealClock()
	}

	if opts.Locker == nil {
		opts.Locker = NewLocker()
	}
	if opts.ID == "" {
		opts.ID = "engine"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Broker == nil {
		opts.Broker = NewMemoryBrokerWith(MemoryBrokerOptions{Logger: opts.Logger})
	}
	e := &Engine{
		opts:   opts,
		store:  opts.Store,
		clock:  opts.Clock,
		caller: opts.Caller,
		broker: opts.Broker,
		locker: opts.Locker,
		log:    opts.Logger,
		reg:    newRegistry(),
		flows:  map[string]*flowEntry{},
		rpc:    map[string]*flowEntry{},
		live:   map[string]*liveRun{},
		watch:  newWatchHub(opts.MaxWatchers, opts.WatchBuffer, opts.WatchBytes, opts.Logger),
	}
	e.refusals = newRefusalLog(e.log, e.clock)
	e.deadLog = &ratelog.Logger{Bound: ratelog.Bound{Burst: DeadLetterLogBurst, Interval: DeadLetterLogInterval},
		Log: e.log, Now: e.clock.Now, Suppressed: "events dead-lettered, not logged"}
	pub := brokerPublisher{e.brokerPublish, e.link, publishing(opts.Telemetry, opts.Broker)}
	if opts.Executor != nil {
		// Publish steps' events take the engine's door, the executor's.
		pub.publish = func(ctx context.Context, m Message) error {
			_, err := e.PublishEvent(ctx, m)
			if errors.Is(err, ErrNoConsumer) {
				// A flow's own event that no flow consumes goes nowhere,
				// as the in-process broker drops it: the step did its
				// part. Only a client's event (POST /events) is told so.
				return nil
			}
			return err
		}
	}
	e.publisher = pub
	e.rs.slots = make(chan struct{}, e.resumeWorkers())
	e.baseCtx, e.cancel = context.WithCancel(context.Background())
	e.in = newInbox(e, opts.Inbox)
	e.ws = newWaits()
	e.in.offer = subscriber{e}.offer
	e.sc = newScheduler(e)
	if opts.Providers != nil {
		rm, err := newRemote(e, *opts.Providers)
		if err != nil {
			return nil, err
		}
		e.remote = rm
		e.reg.mu.Lock()
		e.reg.added = rm.wakeServed
		e.reg.mu.Unlock()
	}
	return e, nil
}

// Registry returns the handlers of Go steps and rollbacks of JSON flows.
func (e *Engine) Registry() *Registry { return e.reg }

// Provide lets p register its handlers.
func (e *Engine) Provide(p Provider) { p.Provide(e.reg) }

// Caller returns the engine's Caller (Options.Caller), nil without one. A
// generated flow's typed service ports call it through the generated
// adapters: NewSignupFlow(h, SignupServicesFromCaller(e.Caller()),
// e.RuntimeOptions()...); with no Caller the ports are adapters over
// none, and the constructor says so (runtime.PortWithoutCaller).
func (e *Engine) Caller() runtime.Caller { return e.caller }

// RuntimeOptions returns the options a generated flow must be built with to
// run on this engine: the store as its sink (feeding GET /watch), the
// engine's clock, Caller, Publisher and Subscriber (its inbox), its logger,
// and the hooks through which the engine learns that a run is about to
// end or wait, has ended, parked or woken. Pass them to the generated constructor, then Register
// the flow.
func (e *Engine) RuntimeOptions() []runtime.Option {
	opts := []runtime.Option{
		runtime.WithSink(e.sink()),
		runtime.WithClock(e.clock),
		runtime.WithPublisher(e.publisher),
		runtime.WithSubscriber(subscriber{e}),
		runtime.WithLogger(e.log),
		runtime.WithRunEnded(e.runEnded),
		runtime.WithRunLeaving(e.runLeaving),
		runtime.WithMaxHistory(e.opts.MaxHistory),
		runtime.WithRunParked(e.runParked),
		runtime.WithChildren(childRuns{e}),
	}
	if e.caller != nil {
		opts = append(opts, runtime.WithCaller(e.caller))
	}
	if e.opts.Telemetry != nil {
		opts = append(opts, runtime.WithObserver(e.opts.Telemetry))
	}
	return opts
}

// Runtimer is what a generated flow type is: a typed wrapper around its
// runtime definition.
type Runtimer[S any] interface{ Runtime() *runtime.Flow[S] }

// Triggered is what a generated flow type also is: it lists the triggers
// its .flow file declares.
type Triggered interface{ Triggers() []runtime.Trigger }

// Modeled is what a generated flow type also is: it carries its JSON form,
// from which the engine draws its diagrams (GET /flows/{flow}/diagram, the
// web view).
type Modeled interface{ FlowJSON() []byte }

// Register registers a generated flow, built with e.RuntimeOptions(), with
// the triggers that start it. Given no triggers, it takes the flow's own
// (Triggered: generated flows list their .flow file's trigger lines);
// triggers given here replace those. To register a generated flow with no
// trigger at all, use RegisterFlow(e, flow.Runtime()). The flows a flow's
// call steps and rollback calls run are registered first: Register and
// RegisterFlow refuse a flow that calls one the engine does not define
// (ErrUnknownFlow), as each of its runs would fail at the call.
func Register[S any](e *Engine, flow Runtimer[S], triggers ...runtime.Trigger) error {
	if len(triggers) == 0 {
		if t, ok := flow.(Triggered); ok {
			triggers = t.Triggers()
		}
	}
	f := flow.Runtime()
	var model *dsl.Flow
	if m, ok := flow.(Modeled); ok {
		var err error
		if model, err = decodeModel(f.ID(), m.FlowJSON()); err != nil {
			return err
		}
	}
	return registerFlow(e, f, model, triggers)
}

// decodeModel reads the JSON form of flow name, as FlowJSON returns it.
func decodeModel(name string, doc []byte) (*dsl.Flow, error) {
	file, ds := dsl.DecodeJSON(name+".json", doc)
	if ds.HasErrors() {
		return nil, fmt.Errorf("engine: flow %q: its JSON form: %s", name, ds[0].Message)
	}
	for _, fl := range file.Flows {
		if fl != nil && fl.Name == name {
			return fl, nil
		}
	}
	return nil, fmt.Errorf("engine: flow %q: its JSON form has no flow of that name", name)
}

// RegisterFlow registers a runtime flow definition, built with
// e.RuntimeOptions(), with the triggers that start it. A run's state is
// the JSON encoding of S: the HTTP API decodes the request body into it and
// an event trigger decodes the event's payload into it.
func RegisterFlow[S any](e *Engine, f *runtime.Flow[S], triggers ...runtime.Trigger) error {
	return registerFlow(e, f, nil, triggers)
}

// registerFlow registers f; model, when known, is what its diagrams are
// drawn from.
func registerFlow[S any](e *Engine, f *runtime.Flow[S], model *dsl.Flow, triggers []runtime.Trigger) error {
	if e.opts.Executor != nil {
		return errExecutorOnly
	}
	for _, t := range triggers {
		if err := validateTrigger(t); err != nil {
			return fmt.Errorf("flow %q: %w", f.ID(), err)
		}
	}
	if err := calleesRegistered(e, f); err != nil {
		return err
	}
	fe := &flowEntry{name: f.ID(), ops: &typed[S]{f: f}, triggers: triggers, model: model}
	for _, st := range f.Steps() {
		if st.Await != nil {
			fe.awaits = append(fe.awaits, [2]string{st.Await.Topic, st.Await.Event})
		}
	}
	return e.add(fe)
}

// add registers fe, a flow of a name not registered; on an error nothing
// changes.
func (e *Engine) add(fe *flowEntry) error {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	if e.flows[fe.name] != nil {
		e.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrFlowExists, fe.name)
	}
	for _, t := range fe.triggers {
		if t.Kind != runtime.TriggerRPC {
			continue
		}
		if other := e.rpc[t.Endpoint]; other != nil && other.name != fe.name {
			e.mu.Unlock()
			return fmt.Errorf("%w: %s", ErrConflict, rpcTaken(fe.name, t.Endpoint, other.name))
		}
	}
	if !e.started {
		e.flows[fe.name] = fe // Start attaches it
		e.setRPC(fe)
		e.mu.Unlock()
		e.inEffect(fe)
		return nil
	}
	e.attaching.Add(1)
	defer e.attaching.Done()
	e.mu.Unlock()
	// Its triggers start before it is registered: nothing reaches it
	// (rpc, StartRun, calls, the events its triggers deliver) until it
	// is, so that a refusal changes nothing, as a refused PUT /flows
	// (commit), whose attachChanged it goes through.
	if err := e.attachChanged([]*flowEntry{fe}, nil); err != nil {
		return err
	}
	e.inEffect(fe)
	return nil
}

// inEffect says that the flows fes define, or define anew, are in effect:
// the pages that draw the flows (GET /watch's event: flow) draw them anew.
// Every definition comes by it, whether from Go (Register, RegisterFlow)
// or from JSON (PUT /flows, LoadFlows, the flows directory read).
// Telemetry is told too (Telemetry.Defined): the flow's metrics exist
// from its definition on, not from its first run.
func (e *Engine) inEffect(fes ...*flowEntry) {
	for _, fe := range fes {
		if t := e.opts.Telemetry; t != nil {
			t.Defined(fe.name)
		}
		e.watch.publishFlow(fe.name)
	}
}

// detach unroutes fe's rpc endpoints and takes the stops of its
// subscriptions and schedules, which the caller calls once it has let go
// of e.mu (stopAll); e.mu is held.
func (e *Engine) detach(fe *flowEntry) []func() {
	e.dropRPC(fe)
	return e.takeStops(fe)
}

// takeStops takes the stops of fe's subscriptions and schedules, which the
// caller calls once it has let go of e.mu (stopAll); e.mu is held.
func (e *Engine) takeStops(fe *flowEntry) []func() {
	stops := fe.stops
	fe.stops = nil
	return stops
}

// stopAll calls stops, without e.mu: a consumer's stop waits for the
// delivery it has in progress (Broker), whose handler may take e.mu (the
// inbox's does, to check which flows an event starts).
func stopAll(stops []func()) {
	for _, stop := range stops {
		stop()
	}
}

// dropRPC unroutes the rpc endpoints that start fe; e.mu is held.
func (e *Engine) dropRPC(fe *flowEntry) {
	for ep, x := range e.rpc {
		if x == fe {
			delete(e.rpc, ep)
		}
	}
}

// unattach stops what attach started for fes, whose registration is
// undone: their triggers' consumers and the inbox consumers their
// awaits started.
func (e *Engine) unattach(fes ...*flowEntry) {
	var opened []teKey
	var stops []func()
	e.mu.Lock()
	for _, fe := range fes {
		stops = append(stops, e.detach(fe)...)
		opened = append(opened, fe.opened...)
		fe.opened = nil
	}
	e.mu.Unlock()
	stopAll(stops)
	e.in.unconsume(opened)
}

// attach starts fe's event triggers' consumers and its awaits' (the
// fallible part of starting a flow); on an error, or when the engine
// closed meanwhile (ErrClosed), it stops what it started. The caller has
// counted itself in e.attaching. Once the registration that attaches it
// cannot fail any more, activate starts the rest.
func (e *Engine) attach(fe *flowEntry) (err error) {
	if x := e.opts.Executor; x != nil {
		stop, err := x.Attach(e.baseCtx, fe.execFlow())
		if err != nil {
			return err
		}
		e.mu.Lock()
		closed := e.closed
		if !closed {
			fe.stops = append(fe.stops, stop)
		}
		e.mu.Unlock()
		if closed {
			stop()
			return ErrClosed
		}
		return nil
	}
	// The inbox's consumers first: a run a trigger starts may wait for
	// its event at once, and a broker consumer created later starts at
	// the messages published after it (natsbus), so one published
	// between the run's wait and the consumer, or while the engine is
	// killed in between, would reach nobody.
	var opened []teKey
	var stops []func()
	defer func() {
		if err != nil {
			for _, s := range stops {
				s()
			}
			e.in.unconsume(opened)
		}
	}()
	for _, te := range fe.awaits {
		started, err := e.in.consume(te[0], te[1])
		if err != nil {
			return err
		}
		if started {
			opened = append(opened, teKey{te[0], te[1]})
		}
	}
	for _, t := range fe.triggers {
		if t.Kind == runtime.TriggerEvent {
			stop, err := e.consumeTrigger(fe, t.Topic, t.Event)
			if err != nil {
				return err
			}
			stops = append(stops, stop)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		// Close has stopped the flows it knew of and the inbox: what
		// started meanwhile stops here (the deferred undo), before
		// Close returns (it waits for e.attaching).
		return ErrClosed
	}
	fe.stops = append(fe.stops, stops...)
	fe.opened = append(fe.opened, opened...)
	return nil
}

// activate starts what follows the registration of fes, committed and
// attached, and cannot fail: their schedules (a tick starts a run at
// once, so not before) and the resumption of their unfinished runs (after
// a restart or a late registration; resume.go). An executor's schedules
// and runs are the executor's: one that is a TriggerKeeper starts its
// schedules now (Activate), an error of which is logged, since the
// registration stands (the keeper keeps trying); another started them in
// Attach.
func (e *Engine) activate(fes ...*flowEntry) {
	if e.opts.Executor != nil {
		if keeper, ok := e.opts.Executor.(TriggerKeeper); ok {
			for _, fe := range fes {
				if err := keeper.Activate(e.baseCtx, fe.execFlow()); err != nil {
					e.log.Error("starting the triggers of a registered flow outside the process (retrying)", "flow", fe.name, "error", err)
				}
			}
		}
		return
	}
	for _, fe := range fes {
		e.schedule(fe)
		e.resumeFlow(fe)
	}
}

// schedule starts fe's schedules.
func (e *Engine) schedule(fe *flowEntry) {
	var stops []func()
	for _, t := range fe.triggers {
		if t.Kind == runtime.TriggerSchedule {
			stops = append(stops, e.sc.add(fe, t.Schedule))
		}
	}
	e.mu.Lock()
	fe.stops = append(fe.stops, stops...)
	e.mu.Unlock()
}

// Start loads the inbox of awaited events, starts the triggers, and starts
// resuming every unfinished run of the registered flows from the store, in
// the background (Options.ResumeWorkers at a time; WaitResumed waits for
// them): it returns before they are resumed, so that the engine serves
// meanwhile. Runs of flows not registered yet resume when their flow is
// registered.
//
// A Start that fails (its ID held by another engine, or by another
// process on the broker: claimID; the inbox does not load; the broker
// refuses a trigger's consumer) leaves nothing running and the engine closed: the
// consumers it started are stopped, no run was resumed and no trigger
// started one, and Close has nothing left to do. Make a new Engine to try
// again.
func (e *Engine) Start(ctx context.Context) error {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	e.mu.Lock()
	if e.started || e.closed {
		e.mu.Unlock()
		return errors.New("engine: Start called twice or after Close")
	}
	e.started = true
	if t := e.opts.Telemetry; t != nil {
		e.endInFlight = t.InFlight(e.inFlight)
	}
	flows := make([]*flowEntry, 0, len(e.flows))
	for _, fe := range e.flows {
		flows = append(flows, fe)
	}
	e.attaching.Add(1)
	e.mu.Unlock()
	sort.Slice(flows, func(i, j int) bool { return flows[i].name < flows[j].name })
	err := e.claimID(ctx)
	if err == nil {
		err = e.start(ctx, flows)
	}
	e.attaching.Done()
	if err != nil {
		// Close stops what started (the flows' consumers, the inbox's);
		// no run was resumed (activate comes last), and only a run
		// started before Start (StartRun) can be left to wait for,
		// within ctx.
		_ = e.Close(ctx)
		return err
	}
	return nil
}

// claimID holds, in the Locker, this engine's ID until Close has stopped
// its consumers, and fails if another engine sharing the Locker (engines
// sharing a store must) holds it: the broker's consumers of one name share
// its messages, so two engines of one ID would split the awaited events
// between them ("await-<ID>"), and a run would wait on while its event
// went to the other engine's inbox, which offers it to its own runs only
// (two engines of one store left with the default ID did). On a broker
// that holds IDs (IDClaimer), it holds it there too, and fails if another
// process does: engines of two processes, each with its store, share no
// Locker.
func (e *Engine) claimID(ctx context.Context) error {
	if e.opts.Executor != nil {
		return nil // its events are the executor's
	}
	unlock, err := e.locker.Lock(held, engineLockKey(e.opts.ID))
	if err != nil {
		return fmt.Errorf("engine: another engine sharing this store (its Locker) has the ID %q: each needs its own Options.ID, or the awaited events would be split between them", e.opts.ID)
	}
	release, err := e.claimBroker(ctx)
	if err != nil {
		unlock()
		return err
	}
	e.idUnlock = func() {
		release()
		unlock()
	}
	return nil
}

// engineLockKey is the Locker key of an engine's ID: a space keeps it apart
// from every run ID (CheckRunID), a word from a message's (messageLockKey).
func engineLockKey(id string) string { return "engine " + id }

// start is Start's work, once it holds e.attaching.
func (e *Engine) start(ctx context.Context, flows []*flowEntry) error {
	if err := e.in.load(ctx); err != nil {
		return err
	}
	e.in.start()
	for _, fe := range flows {
		if err := e.attach(fe); err != nil {
			return err
		}
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	for _, fe := range flows {
		fe.live.Store(true)
	}
	e.mu.Unlock()
	e.activate(flows...)
	e.logUndefinedFlows(flows)
	return nil
}

// Close stops the engine gracefully: no new runs start, and every run it
// drives is suspended (runtime.Run.Suspend): a running one at its next step
// boundary (the event that ends the step is recorded first, so the next
// Start resumes it from the following step), a waiting one at once (its
// wait, deadline included, is in its history). A registration starting
// its triggers meanwhile is refused (ErrClosed) and stops them, and so is
// a PublishEvent that has not published yet; one that has is applied
// (its runs start, suspended at once) and answered as applied. Close
// waits for those, for the broker deliveries in progress (a trigger
// starting a run, the inbox recording an event: a consumer's stop waits
// for its handler, Broker) and for runs to stop until ctx ends; then it
// cancels the handlers' context, and a step still running is abandoned,
// and runs again after the next Start (with the same idempotency key).
// Close does not close the store or the broker: once it has returned
// without an error, nothing the engine drives uses them.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	if e.endInFlight != nil {
		e.endInFlight()
	}
	var stops []func()
	for _, fe := range e.flows {
		stops = append(stops, e.detach(fe)...)
	}
	e.mu.Unlock()
	e.EndWatches()
	e.sc.stop()
	e.draining.Store(true)
	e.suspendAll(nil)
	done := make(chan struct{})
	go func() {
		// A consumer's stop returns once the delivery it has in
		// progress has (Broker): a trigger's, whose run, if it starts,
		// is suspended as it starts (draining) and tracked before
		// e.active is waited for, or the inbox's, recording events in
		// the store. Within ctx, as the runs: past it, e.cancel ends
		// the handlers' context.
		stopAll(stops)
		e.in.stop()
		// Registrations under way stop the consumers they started
		// (attach, inbox.consume), which would outlive Close.
		e.attaching.Wait()
		// Before e.active: a publication's runs are tracked before it
		// is done.
		e.publishing.Wait()
		e.active.Wait()
		e.bg.Wait()
		if e.idUnlock != nil {
			e.idUnlock() // its consumers are stopped
		}
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("engine: runs still in progress at close: %w", ctx.Err())
	}
	e.cancel()
	return err
}

func (e *Engine) lookup(flow string) (*flowEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fe := e.flows[flow]
	if fe == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownFlow, flow)
	}
	return fe, nil
}

// FlowInfo describes a registered flow.
type FlowInfo struct {
	Name     string            `json:"name"`
	JSON     bool              `json:"json"` // defined in JSON (else generated Go)
	Triggers []runtime.Trigger `json:"triggers,omitempty"`
}

// Flows lists the registered flows by name.
func (e *Engine) Flows() []FlowInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]FlowInfo, 0, len(e.flows))
	for _, fe := range e.flows {
		out = append(out, FlowInfo{Name: fe.name, JSON: fe.def != nil, Triggers: slices.Clone(fe.triggers)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FlowJSON returns the JSON definition of a JSON flow.
func (e *Engine) FlowJSON(flow string) ([]byte, error) {
	fe, err := e.lookup(flow)
	if err != nil {
		return nil, err
	}
	if fe.source == nil {
		return nil, &generatedFlowError{flow: flow, has: "a JSON definition"}
	}
	return fe.source, nil
}

// generatedFlowError: a generated flow (registered in Go) has no JSON
// definition or remote handlers to show. It answers 404, as a flow the
// engine does not know, but says what the flow is.
type generatedFlowError struct{ flow, has string }

func (e *generatedFlowError) Error() string {
	return fmt.Sprintf("engine: flow %q is a generated flow, registered in Go: it has no %s", e.flow, e.has)
}

func (e *generatedFlowError) Is(target error) bool { return target == ErrUnknownFlow }

// flowOps is a registered flow with its state type erased.
type flowOps interface {
	start(ctx context.Context, state json.RawMessage, runID string, opts ...runtime.RunOption) (runHandle, error)
	resume(ctx context.Context, history []runtime.Event) (runHandle, error)
	checkHistory(h []runtime.Event) error
	// initialState is the snapshot a run started with state records in
	// its first event (ErrBadState if state cannot be the flow's state).
	initialState(state json.RawMessage) (json.RawMessage, error)
	// checkStart is ErrBadState for a client's start state that names a
	// member the flow's state type does not have.
	checkStart(state json.RawMessage) error
}

type runHandle interface {
	ID() string
	Done() <-chan struct{}
	Abort() error
	AbortUnlessRollingBack() error
	Suspend() error
	OnEnd(func(runtime.RunEnd))
}

type typed[S any] struct{ f *runtime.Flow[S] }

func (t *typed[S]) start(ctx context.Context, state json.RawMessage, runID string, opts ...runtime.RunOption) (runHandle, error) {
	s, err := t.decode(state)
	if err != nil {
		return nil, err
	}
	return t.f.Start(ctx, s, append(opts, runtime.WithRunID(runID))...)
}

func (t *typed[S]) decode(state json.RawMessage) (S, error) {
	var s S
	if len(state) > 0 {
		if err := json.Unmarshal(state, &s); err != nil {
			return s, fmt.Errorf("%w: %v", ErrBadState, err)
		}
	}
	return s, nil
}

// checkStart refuses a state, of a start a client asks for (HTTP,
// Engine.StartRun), with a member that S does not name exactly as
// written, or a member twice: encoding/json, which decode uses, drops an
// unknown member and matches names whatever their case, so a typo
// ({"custmer": ...}) would start a run with the field empty, and answer
// 201. The rule is the provider protocol's (provider.DecodeStrict), down
// to nested structs and slices of them. An event's payload is not held to
// it (decode alone): it is a message others publish, and every flow that
// starts on it takes the members its state type has. A state type that
// is not a struct, or decodes itself (engine.State, a JSON flow's: any
// object), has no members to check; nor has an empty or null state, the
// zero state.
func (t *typed[S]) checkStart(state json.RawMessage) error {
	var s S
	if _, ok := any(&s).(json.Unmarshaler); ok || reflect.TypeFor[S]().Kind() != reflect.Struct {
		return nil
	}
	if b := bytes.TrimSpace(state); len(b) == 0 || string(b) == "null" {
		return nil
	}
	if err := provider.DecodeStrict(state, &s); err != nil {
		return fmt.Errorf("%w: the state of flow %q: %v", ErrBadState, t.f.ID(), err)
	}
	return nil
}

// initialState encodes the state as the runtime encodes a run's snapshot.
func (t *typed[S]) initialState(state json.RawMessage) (json.RawMessage, error) {
	s, err := t.decode(state)
	if err != nil {
		return nil, err
	}
	return runtime.EncodeState(&s) // as its snapshots are
}

func (t *typed[S]) resume(ctx context.Context, h []runtime.Event) (runHandle, error) {
	return t.f.Resume(ctx, h)
}

func (t *typed[S]) checkHistory(h []runtime.Event) error { return t.f.CheckHistory(h) }
