package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/flowgen/flowgen/internal/option"
)

type options struct {
	sink      Sink
	loader    HistoryLoader
	aborts    AbortRecorder // the sink, when it keeps abort requests
	clock     Clock
	realClock bool
	caller    Caller
	pub       Publisher
	sub       Subscriber
	ids       func() string
	logger    *slog.Logger
	ended     func(runID string, final RunState, err error)
	leaving   func(runID string)
	observer  Observer
	maxEvents uint64 // the bound of a run's history (WithMaxHistory)
	parked    func(runID string, parked bool)
	children  ChildRuns
	// interrupting, for tests only, is called by Abort and Suspend between
	// marking the run and looking for its wait: the window in which a run
	// that enters a wait must still see the mark.
	interrupting func()
}

// Option configures a Flow. A nil Option sets nothing (internal/option's
// Apply, the one rule of every option type of the package).
type Option func(*options)

// WithSink sets where events go (default: nowhere). A sink that also
// implements HistoryLoader lets Status report the history of any run; one
// that implements AbortRecorder makes aborts durable before they are acted
// on.
func WithSink(s Sink) Option { return func(o *options) { o.sink = s } }

// WithClock sets the clock (default: the wall clock); tests pass a FakeClock.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithCaller sets the Caller of RPC steps.
func WithCaller(c Caller) Option { return func(o *options) { o.caller = c } }

// WithPublisher sets the Publisher of publish steps and Step.Publish.
func WithPublisher(p Publisher) Option { return func(o *options) { o.pub = p } }

// WithSubscriber sets the Subscriber of await and event steps.
func WithSubscriber(s Subscriber) Option { return func(o *options) { o.sub = s } }

// WithIDs sets the generator of run IDs (default: NewID, a random
// per-process prefix and a counter). IDs must be unique among the flow's
// runs, and follow CheckRunID: Start refuses one outside it (ErrBadRunID).
func WithIDs(next func() string) Option { return func(o *options) { o.ids = next } }

// WithRunEnded sets a function called once for every run whose life in this
// process ends: it ended (final is its terminal state, err its Result.Err),
// a sink stopped it, or Suspend stopped it (err wraps ErrSuspended). It is
// called after Done is closed, on the run's goroutine; it must not block.
// An engine uses it to account for runs without a goroutine per run.
func WithRunEnded(fn func(runID string, final RunState, err error)) Option {
	return func(o *options) { o.ended = fn }
}

// WithRunLeaving sets a function called when a run's goroutine is about to
// stop working, before anything shows why: as the run is about to record
// its final state, or an event that enters a wait it parks on (an await, a
// sleep, a call's child, a rollback call's child or a gated rollback's
// event: Event.Parks), before the sink has that event; or, for a run a
// sink stopped or Suspend stopped, before Done is closed. From then on that
// goroutine runs no step, rollback or wait: it records the event and parks
// the run (WithRunParked), or releases it and calls the WithRunEnded
// function, then ends. It is called once for each goroutine of a run: after
// a wake (WithRunParked, parked false) it is called again before the run
// next waits or ends; a run that parks without an event (one resumed
// waiting) is not told. It is called on the goroutine recording the event
// (Start's caller for a run whose first event waits), with no lock held;
// it must not block. An engine gives back the run's place among its runs
// in flight there, so that a client that saw the run end or wait may
// start another at once.
func WithRunLeaving(fn func(runID string)) Option {
	return func(o *options) { o.leaving = fn }
}

// WithRunParked sets a function called when a run parks on a wait (an
// await or a sleep: its goroutine ends, parked true) and when it wakes from
// it (it runs again on a new goroutine, parked false), in that order for
// each wait; a run that ends or is suspended while parked wakes first. It
// is called on the run's goroutine and must not block. Parking comes after
// the event that enters the wait is recorded: WithRunLeaving is told
// before it. With WithRunLeaving and WithRunEnded, an engine counts the
// runs that hold a goroutine (its runs in flight).
func WithRunParked(fn func(runID string, parked bool)) Option {
	return func(o *options) { o.parked = fn }
}

// WithLogger sets a logger for what is not an event: abandoned steps,
// events refused for a payload that is not JSON, refusing sinks (of an
// event, or of the abort request of a cancelled Start context), a state
// that stopped encoding.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// RunOption configures one run. A nil RunOption sets nothing.
type RunOption func(*runOptions)

type runOptions struct {
	id     string
	named  bool    // WithRunID, even of ""
	parent *RunRef // WithParent
}

// applyRunOptions applies opts. A run started without options (the most
// common call) allocates nothing for them: the options given a pointer
// make it escape.
func applyRunOptions(opts []RunOption) runOptions {
	if len(opts) == 0 {
		return runOptions{}
	}
	ro := new(runOptions)
	option.Apply(ro, opts)
	return *ro
}

// WithRunID sets the run's ID instead of generating one. Start refuses an
// ID that CheckRunID refuses (an error wrapping ErrBadRunID: "" too, which
// does not ask for a generated ID), unless it is the ID of a child run of
// the run WithParent names (ChildRunID).
func WithRunID(id string) RunOption { return func(o *runOptions) { o.id, o.named = id, true } }

// Flow is a flow definition: an ID and registered steps. It runs any number
// of concurrent runs, each with its own ID, state and history. Register all
// steps before the first Start; the definition is fixed from then on.
type Flow[S any] struct {
	id   string
	opts options

	mu     sync.Mutex
	steps  []*Step[S]
	def    *definition[S]
	defErr error
	frozen bool
	ready  atomic.Pointer[definition[S]] // def once built without error: no lock per run

	liveMu sync.RWMutex
	live   map[string]*Run[S]
}

// New returns an empty flow definition. An id that is not valid UTF-8
// fails the first Start with ErrDefinition (names are metric labels).
func New[S any](id string, opts ...Option) *Flow[S] {
	f := &Flow[S]{id: id, live: make(map[string]*Run[S])}
	option.Apply(&f.opts, opts)
	if f.opts.sink == nil {
		f.opts.sink = nopSink{}
	}
	f.opts.loader, _ = f.opts.sink.(HistoryLoader)
	f.opts.aborts, _ = f.opts.sink.(AbortRecorder)
	if f.opts.clock == nil {
		f.opts.clock = realClock{}
	}
	_, f.opts.realClock = f.opts.clock.(realClock)
	if f.opts.ids == nil {
		f.opts.ids = NewID
	}
	if f.opts.maxEvents == 0 {
		f.opts.maxEvents = DefaultMaxHistory
	}
	return f
}

// ID returns the flow's ID.
func (f *Flow[S]) ID() string { return f.id }

// Register adds steps in order. It rejects nil steps, empty, reserved
// (done, fail, rollback) or duplicate IDs, IDs with ':', '/', '#', '@',
// white space or a control character (stepIDError), IDs and routed
// outcomes that are not valid UTF-8, steps without Exec, negative
// timeouts, deadlines and backoff bounds (checkDurations), a choice
// (NewChoice) whose Next leaves one of its outcomes unrouted, and
// registration after the first run; and, wrapping ErrNotConfigured, an
// option given a nil pointer (checkNilOptions), steps that need an option
// the flow lacks (checkNeeds) and calls of a flow that
// could not find its child runs again (checkCallSinks). Transition
// targets are checked when the flow first starts.
func (f *Flow[S]) Register(steps ...*Step[S]) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen {
		return fmt.Errorf("%w: flow %q: Register after the first run", ErrDefinition, f.id)
	}
	seen := make(map[string]bool, len(f.steps)+len(steps))
	for _, st := range f.steps {
		seen[st.ID] = true
		for _, b := range st.Branches {
			seen[b.ID] = true
		}
	}
	var all []*Step[S] // with the branches of parallel blocks
	for _, st := range steps {
		if err := checkStep(st); err != nil {
			return err
		}
		all = append(all, st)
		all = append(all, st.Branches...)
	}
	for _, st := range all {
		if seen[st.ID] {
			return fmt.Errorf("%w: duplicate step %q", ErrDefinition, st.ID)
		}
		seen[st.ID] = true
	}
	if err := f.checkNilOptions(); err != nil {
		return err
	}
	if err := f.checkNeeds(all); err != nil {
		return err
	}
	if err := f.checkCallSinks(all); err != nil {
		return err
	}
	f.steps = append(f.steps, steps...)
	return nil
}

// Steps returns the registered steps in order.
func (f *Flow[S]) Steps() []*Step[S] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.steps)
}

// definition freezes the flow and compiles it, once.
func (f *Flow[S]) definition() (*definition[S], error) {
	if d := f.ready.Load(); d != nil {
		return d, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.frozen {
		f.frozen = true
		f.def, f.defErr = buildDefinition(f.id, f.steps)
		if f.defErr == nil {
			f.ready.Store(f.def)
		}
	}
	return f.def, f.defErr
}

// Start starts a run with the given initial state. It returns once the
// run's first event is recorded (so, with a durable sink, once the run
// survives a crash); the steps go on on their own goroutine. A run ID the
// sink already has fails with an error wrapping ErrDuplicateRun, and the
// existing run is untouched. The run's steps see ctx's values; cancelling
// ctx aborts the run like Abort (use context.WithoutCancel to let a run
// outlive a request).
func (f *Flow[S]) Start(ctx context.Context, state S, opts ...RunOption) (*Run[S], error) {
	r, err := f.newRun(ctx, state, nil, nil, opts)
	if err != nil {
		return nil, err
	}
	if err := r.begin(); err != nil {
		return nil, err
	}
	go r.loop()
	return r, nil
}

// Execute runs a run to its end and returns its result; the error is
// Result.Err (nil only when the run ends done). The steps run on the calling
// goroutine until the run waits (an await or a sleep); Execute then waits
// for it to end.
func (f *Flow[S]) Execute(ctx context.Context, state S, opts ...RunOption) (Result[S], error) {
	r, err := f.newRun(ctx, state, nil, nil, opts)
	if err != nil {
		return Result[S]{}, err
	}
	if err := r.begin(); err != nil {
		return Result[S]{}, err
	}
	r.loop()
	r.mu.Lock()
	over := r.over
	r.mu.Unlock()
	if !over { // it waits: another goroutine ends it
		<-r.doneChan()
	}
	return r.fin.result, r.fin.result.Err
}

// Run returns a live (not finished) run of this flow. A run is there once
// its first event is recorded: before, it does not exist yet (and never
// will, if the sink refuses that event).
func (f *Flow[S]) Run(id string) (*Run[S], bool) {
	f.liveMu.RLock()
	defer f.liveMu.RUnlock()
	r, ok := f.live[id]
	if !ok || !r.recorded.Load() { // a run exists once its first event is recorded
		return nil, false
	}
	return r, true
}

// liveRun is Run for the drivers of a run (AttachChild, ResumeAll) that
// lost a race to start or resume it: a run being started or resumed is in
// the live runs before it is recorded, so liveRun waits for that to settle
// (briefly: until its first event is written, or its history checked)
// rather than report it missing.
func (f *Flow[S]) liveRun(id string) (*Run[S], bool) {
	f.liveMu.RLock()
	r, ok := f.live[id]
	f.liveMu.RUnlock()
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	if !r.settled {
		if r.ready == nil {
			r.ready = make(chan struct{})
		}
		ready := r.ready
		r.mu.Unlock()
		<-ready
	} else {
		r.mu.Unlock()
	}
	return r, r.recorded.Load()
}

// Status returns the status of a live run, or of a finished one whose
// history the sink can load (Replay of it); ctx bounds that load (a nil
// ctx is context.Background()). A run of another flow is unknown here
// (ErrUnknownRun), even when the sink is shared and holds it.
func (f *Flow[S]) Status(ctx context.Context, runID string) (Status, error) {
	if r, ok := f.Run(runID); ok {
		return r.Status(), nil
	}
	if f.opts.loader == nil {
		return Status{}, fmt.Errorf("%w: %q", ErrUnknownRun, runID)
	}
	h, err := f.ownHistory(ctx, runID)
	if err != nil {
		return Status{}, err
	}
	return Replay(h)
}

// ownHistory loads the history of f's run runID from its sink: a run the
// sink does not hold, or holds as another flow's, is ErrUnknownRun, which
// names the run once. The flow is checked before anything reads the
// history further: another flow's says nothing about this definition.
func (f *Flow[S]) ownHistory(ctx context.Context, runID string) ([]Event, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	h, err := f.opts.loader.LoadHistory(ctx, runID)
	switch {
	case errors.Is(err, ErrUnknownRun) || err == nil && len(h) == 0:
		return nil, fmt.Errorf("%w: %q", ErrUnknownRun, runID)
	case err != nil:
		return nil, fmt.Errorf("run %q: %w", runID, err)
	case h[0].Flow != f.id:
		return nil, fmt.Errorf("%w: %q is a run of flow %q, not %q", ErrUnknownRun, runID, h[0].Flow, f.id)
	}
	return h, nil
}

// Abort aborts a live run (see Run.Abort). A run that is not live here
// (over, or not started or resumed in this process) is ErrUnknownRun,
// whose text says so and what to do: a service that restarted and aborts
// a run its store holds before ResumeAll would otherwise read "unknown
// run" of a run its Status shows.
func (f *Flow[S]) Abort(runID string) error {
	r, ok := f.Run(runID)
	if !ok {
		return fmt.Errorf("%w: %q is not live in this process: Flow.Abort knows only the runs started or resumed here "+
			"(one that ended cannot be aborted; one a store holds is resumed by ResumeAll, or aborted by the store's RequestAbort and then ResumeAll)",
			ErrUnknownRun, runID)
	}
	return r.Abort()
}

// SuspendAll suspends every live run of f (Run.Suspend), as a process that
// shuts down does, and waits until each has stopped, or until ctx ends
// (then its error, wrapped). Nothing is recorded for a suspension: Resume
// or ResumeAll continues the runs from their histories, here or in the
// next process. Stop starting runs first: a run started meanwhile may not
// be suspended. The child runs of calls are their own flow's: its
// SuspendAll suspends them, else they run on.
//
// Shutting down this way, rather than by cancelling the context the runs
// were started with, keeps them: a cancelled context aborts them.
func (f *Flow[S]) SuspendAll(ctx context.Context) error {
	f.liveMu.Lock()
	runs := make([]*Run[S], 0, len(f.live))
	for _, r := range f.live {
		runs = append(runs, r)
	}
	f.liveMu.Unlock()
	for _, r := range runs {
		_ = r.Suspend() // ErrFinished: it ended meanwhile, which is as good
	}
	for _, r := range runs {
		select {
		case <-r.Done():
		case <-ctx.Done():
			return fmt.Errorf("runtime: flow %q: runs still stopping: %w", f.id, context.Cause(ctx))
		}
	}
	return nil
}

func (f *Flow[S]) addLive(r *Run[S]) error {
	f.liveMu.Lock()
	defer f.liveMu.Unlock()
	if _, dup := f.live[r.env.runID]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateRun, r.env.runID)
	}
	f.live[r.env.runID] = r
	return nil
}

func (f *Flow[S]) removeLive(r *Run[S]) {
	f.liveMu.Lock()
	delete(f.live, r.env.runID)
	f.liveMu.Unlock()
}
