package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/looplab/fsm"
)

// Result is how a run ended.
type Result[S any] struct {
	RunID string
	State S
	Final RunState
	// Err is nil when Final is done. Otherwise: a *StepError for failed and
	// compensated, an error wrapping ErrAborted for aborted, those joined with
	// every *RollbackError for compensation_failed, and an error wrapping
	// ErrSink when a sink stopped the run.
	Err error
}

// Run is one execution of a flow: its own ID, state, state machine and
// history. Its methods are safe for concurrent use.
//
// One goroutine at a time drives a run: the one that started it (Start's,
// or Execute's caller), until the run ends or enters a waiting state; then
// none, until a delivery, the wait's deadline or an abort wakes it on a new
// goroutine.
type Run[S any] struct {
	flow   *Flow[S]
	def    *definition[S]
	env    runEnv
	ctx    context.Context // cancelled by Abort and by Start's context
	cancel context.CancelCauseFunc
	quiet  context.Context // ctx without cancellation: sinks, rollbacks, subscriptions
	// cancels: Start's (or Resume's) context can be cancelled, so a parked
	// run, which has no step whose context would end, watches ctx (park).
	cancels bool
	// stopCancelWatch stops watchCancel's watch of ctx; cancelRecorded is
	// closed once the watch has recorded the context's end as an abort
	// request (or found nothing to record). Both nil without a watch.
	stopCancelWatch func() bool
	cancelRecorded  chan struct{}
	clock           Clock
	sink            Sink
	obs             RunObserver // nil without WithObserver (observe.go)
	traced          bool        // an event of this life carries obs.Trace()
	// machine is the run's state machine, the one source of where the run
	// is: every move is one of its events, and it refuses a move the flow
	// does not have. cur is its current state's description.
	machine *fsm.FSM
	cur     *mstate

	// Owned by the goroutine driving the run.
	state    S
	progress progress
	lastTime time.Time // time of the last event
	clean    bool      // no action ran since snap was taken
	snap     json.RawMessage
	snapped  S // the state snap encodes, when def.valueState
	// hibernated: the run waits without its state, snapshot and progress,
	// which its history holds (hibernate, thaw).
	hibernated bool
	next       nextEvent // set by fire for record
	// unstarted: the child of the wait that the next event ends was never
	// started (ErrChildNotStarted), so that event does not name it (links).
	unstarted bool
	firstCtxs []stepCtx // the contexts of first attempts (stepContext)

	// entry orders Abort against the run's entry into its rollback after
	// a failure, and into its end: failing is set, under entry, as the
	// run records "-> failing", and ending as it records a final state
	// (enter), unless Abort marked the run first, and Abort then refuses
	// (ErrRollingBack, ErrFinished), recording nothing. Without it an
	// abort that came as the run recorded its failure was accepted, its
	// request recorded, and the run rolled back after the failure, ending
	// compensated, not aborted; and one that came as the run recorded
	// "-> done" was accepted with the run ending done, or refused as
	// finished with its request recorded all the same.
	entry   sync.Mutex
	failing bool
	ending  bool
	// toldLeaving: the WithRunLeaving function was called since the run's
	// goroutine started (or woke). Owned by the goroutine driving the run.
	toldLeaving bool

	suspending atomic.Bool
	recorded   atomic.Bool // the run's first event is recorded: it exists
	// suspendCh is closed by Suspend: it ends a backoff. Made on first
	// need (suspendChan), by a backoff or Suspend: most runs have neither.
	suspendCh chan struct{}

	mu sync.Mutex // guards settled, ready, track, parked, halted, over, done and suspendCh
	// settled: the run is recorded, or was never recorded and is gone from
	// the flow's live runs; ready (made on first need, by liveRun) is then
	// closed.
	settled bool
	ready   chan struct{}
	// track folds the events into the run's status when the sink cannot
	// load histories (else Status replays the sink's); nil then, which
	// saves a waiting run its size.
	track  *tracker
	parked *parking // the run waits, holding no goroutine
	halted error
	over   bool           // the run has ended: fin is set
	done   chan struct{}  // made on first need (Done, Wait)
	fin    *runFinal[S]   // set as the run's life here ends: a waiting run does not carry it
	ends   []func(RunEnd) // OnEnd
	parent *RunRef        // WithParent: recorded on the first event
}

// runFinal is how a run's life in this process ended.
type runFinal[S any] struct {
	result Result[S]
	end    RunEnd // for OnEnd, once endSet (ended)
	endSet bool
}

// nextEvent is what the run knows of the event it is about to record that
// the machine does not: how the attempt ended, and its real error (the
// event keeps its text; the run's result keeps the error).
type nextEvent struct {
	attempt int
	outcome Outcome
	err     error
	errText string
	payload []byte
	link    string
	retryAt time.Time // a retry's: when the next attempt may start (Event.RetryAt)
}

// errAttemptTimeout is the cancellation cause of an attempt's context when
// its timeout passes.
var errAttemptTimeout = fmt.Errorf("%w: attempt deadline passed", ErrTimeout)

// newRun makes a run: a new one, or with history, the run it continues,
// whose progress that history left is was (nil for a new run).
func (f *Flow[S]) newRun(ctx context.Context, state S, history []Event, was *progress, opts []RunOption) (*Run[S], error) {
	def, err := f.definition()
	if err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ro := applyRunOptions(opts)
	var id string
	if len(history) > 0 {
		id = history[0].RunID
	}
	switch {
	case id == "":
		if ro.named {
			if err := checkStartID(ro.id, ro.parent); err != nil {
				return nil, fmt.Errorf("runtime: flow %q: %w", f.id, err)
			}
		}
		id = ro.id
	case ro.id != "" && ro.id != id:
		return nil, fmt.Errorf("%w: resuming run %q with run ID %q", ErrHistory, id, ro.id)
	}
	if id == "" {
		// A generated ID follows the rule of a chosen one: WithIDs is
		// the caller's code too.
		id = f.opts.ids()
		if err := CheckRunID(id); err != nil {
			return nil, fmt.Errorf("runtime: flow %q: the run ID generator (WithIDs): %w", f.id, err)
		}
	}
	r := &Run[S]{
		flow:     f,
		def:      def,
		env:      runEnv{runID: id, flow: f.id, opts: &f.opts},
		clock:    f.opts.clock,
		sink:     f.opts.sink,
		state:    state,
		cur:      statePending,
		progress: def.newProgress(),
		parent:   ro.parent,
	}
	// The first event carries the initial state: encode it now so that a
	// state JSON cannot encode fails Start rather than the run.
	if _, err := r.snapshot(); err != nil {
		return nil, fmt.Errorf("runtime: flow %q: state does not encode as JSON: %w", f.id, err)
	}
	if err := f.addLive(r); err != nil {
		return nil, err
	}
	if len(history) > 0 {
		// Live now, so nothing in this process moves the run on any more:
		// what the sink holds of it is final until the run's loop starts.
		if newer, err := f.newerHistory(ctx, history); newer != nil || err != nil {
			f.removeLive(r)
			r.settle()
			if err == nil {
				err = &staleHistory{newer: newer}
			}
			return nil, err
		}
	}
	ctx = r.observe(ctx, history, was)
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	r.quiet = ctx // the run's values without its cancellation
	if ctx.Done() != nil {
		r.quiet = context.WithoutCancel(r.ctx)
		r.cancels = true
	}
	r.machine = def.machine(MachinePending)
	if r.env.opts.loader == nil {
		r.track = &tracker{machine: MachinePending, kind: kindPending, snap: r.snap}
	}
	return r, nil
}

// begin records the run's first event (it starts its first step, or is
// aborted already), so that Start returns only once the run exists in the
// sink: a sink that refuses it (a duplicate run ID in a store) fails Start
// and leaves no run behind.
func (r *Run[S]) begin() error {
	ev := evStart
	if r.ctx.Err() != nil {
		ev = evAbort
	}
	if err := r.fire(ev, 0, "", nil); err != nil {
		r.flow.removeLive(r)
		r.settle()
		r.cancel(nil)
		r.def.machines.Put(r.machine)
		r.machine = nil
		if r.obs != nil {
			r.obs.Ended(StateFailed, err)
		}
		return err
	}
	r.recorded.Store(true)
	r.watchCancel()
	r.settle()
	return nil
}

// watchCancel makes the end of Start's (or Resume's) context an abort
// request with a sink that keeps them (AbortRecorder), as Abort makes it:
// the run records "-> aborting" only once its step in flight returns, and
// a crash before then would resume it as if never aborted. The request is
// recorded while the step winds down; a sink that fails to record it is
// logged, and the run is aborted all the same (its context has ended).
// Abort's own cancellation is recorded by Abort.
func (r *Run[S]) watchCancel() {
	if !r.cancels || r.env.opts.aborts == nil || r.ctx.Err() != nil {
		return
	}
	done := make(chan struct{})
	r.cancelRecorded = done
	r.stopCancelWatch = context.AfterFunc(r.ctx, func() {
		defer close(done)
		if context.Cause(r.ctx) == ErrAborted {
			return
		}
		if _, err := r.requestAbort(); err != nil {
			if l := r.env.opts.logger; l != nil {
				l.Error("flow abort not recorded; run aborted all the same", "flow", r.def.id, "run_id", r.env.runID, "error", err)
			}
		}
	})
}

// suspendChan returns the channel Suspend closes, made on first need.
func (r *Run[S]) suspendChan() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.suspendCh == nil {
		r.suspendCh = make(chan struct{})
	}
	return r.suspendCh
}

// settle wakes the liveRun callers waiting to know whether the run exists:
// it is called once the run is recorded, or gone without being recorded.
func (r *Run[S]) settle() {
	r.mu.Lock()
	r.settled = true
	if r.ready != nil {
		close(r.ready)
	}
	r.mu.Unlock()
}

// ID returns the run's ID.
func (r *Run[S]) ID() string { return r.env.runID }

// Wait waits for the run to end and returns its result; the error is
// Result.Err, or ctx's error if ctx ends first.
func (r *Run[S]) Wait(ctx context.Context) (Result[S], error) {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-r.doneChan():
		return r.fin.result, r.fin.result.Err
	case <-ctx.Done():
		return Result[S]{RunID: r.env.runID}, ctx.Err()
	}
}

// Done is closed when the run has ended.
func (r *Run[S]) Done() <-chan struct{} { return r.doneChan() }

func (r *Run[S]) doneChan() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		r.done = make(chan struct{})
		if r.over {
			close(r.done)
		}
	}
	return r.done
}

// Abort cancels the running step's context, or ends the run's wait; the run
// then rolls back its completed steps and ends aborted (or
// compensation_failed). A step that ignores its context is waited for, up to
// its timeout if it has one. Abort during a rollback changes nothing: the
// rollback finishes. It returns ErrFinished if the run is over, or is
// recording its end (Run.enter orders the two: an abort that comes first
// is taken, and the run records "-> aborting" instead), recording nothing.
//
// With a sink that keeps abort requests (AbortRecorder) the abort is
// recorded there first, durably: Resume after a crash resumes the run
// aborted, whatever it had recorded of the abort. An error recording it is
// returned, and nothing else is done.
//
// A run that Suspend stopped is not over: with such a sink the request is
// recorded all the same, and Abort returns nil, since the run's next
// Resume aborts it (a Resume of it in this process since is aborted at
// once); without one nothing can keep the abort, and Abort returns an
// error wrapping ErrSuspended (Resume the run, then abort it).
func (r *Run[S]) Abort() error {
	if err := r.AbortUnlessRollingBack(); !errors.Is(err, ErrRollingBack) {
		return err
	}
	return nil // the rollback finishes: the abort changes nothing
}

// AbortUnlessRollingBack is Abort, except that a run rolling back after a
// failure refuses the abort, recording nothing: it returns an error
// wrapping ErrRollingBack. So a caller that answers for the abort (the
// engine's POST /runs/{id}/abort) can tell one the run takes, and that
// ends it aborted (or compensation_failed), from one that changes
// nothing: an abort that comes as the run records its failure is one or
// the other, never both (a run marked aborted first takes the abort
// rather than rolling back after its failure). A run rolling back after
// an abort has taken one already: nil.
func (r *Run[S]) AbortUnlessRollingBack() error {
	r.entry.Lock()
	if r.failing {
		r.entry.Unlock()
		return fmt.Errorf("%w: run %q", ErrRollingBack, r.env.runID)
	}
	if r.ending {
		r.entry.Unlock()
		return fmt.Errorf("%w: run %q is recording its end", ErrFinished, r.env.runID)
	}
	recorded, err := r.requestAbort()
	if err != nil {
		r.entry.Unlock()
		return err
	}
	p, over := r.interrupt(func() { r.cancel(ErrAborted) })
	r.entry.Unlock()
	err = r.abortParked(p, over)
	if errors.Is(err, ErrFinished) && r.suspended() {
		if live, ok := r.flow.Run(r.env.runID); ok && live != r {
			return live.AbortUnlessRollingBack() // resumed since, in this process: abort it now
		}
		if recorded {
			return nil
		}
		return fmt.Errorf("%w: run %q: the abort is not recorded, since the flow's sink keeps no abort requests: Resume the run, then abort it", ErrSuspended, r.env.runID)
	}
	return err
}

// enter is called as the run records a move an abort no longer changes:
// its entry into failing (a step or block failed: it marks the run
// rolling back after a failure) or into a final state (ending: done, or
// the end of a rollback), so that Abort refuses from then on, and reports
// true; or, when an abort came first (Abort marks the run under the same
// lock) and the run can take it from where it is (abortable), it reports
// false, and the run records "-> aborting" instead: the abort was
// accepted, so it ends the run aborted.
func (r *Run[S]) enter(to *mstate, abortable bool) bool {
	r.entry.Lock()
	defer r.entry.Unlock()
	if !r.failing && !r.ending && abortable && r.ctx.Err() != nil {
		return false
	}
	if to.kind == kindTerminal {
		r.ending = true
	} else {
		r.failing = true
	}
	return true
}

// suspended reports whether the run's life in this process ended by
// Suspend, the run not over.
func (r *Run[S]) suspended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.over && r.fin != nil && errors.Is(r.fin.result.Err, ErrSuspended)
}

// abort is Abort once the abort is recorded.
func (r *Run[S]) abort() error {
	return r.abortParked(r.interrupt(func() { r.cancel(ErrAborted) }))
}

// abortParked is abort once the run is marked (interrupt): it wakes the
// run's wait p, if any.
func (r *Run[S]) abortParked(p *parking, over bool) error {
	if over {
		return ErrFinished
	}
	if p != nil && !p.rollback { // a rollback finishes whatever happens
		if p.wait.Child != nil {
			// A call: the child is aborted, and its end wakes the run,
			// which then aborts too (the child has rolled back first).
			<-p.armed
			if p.abortChild != nil {
				_ = p.abortChild()
				return nil
			}
		}
		r.wake(p, wakeAbort, nil, nil)
	}
	return nil
}

// requestAbort records the abort with the sink, if it keeps abort
// requests, before anything acts on it: the run records "-> aborting" only
// once its step in flight returns, or once the child of the call it waits
// for has ended, and a crash before then would otherwise lose the abort
// (the resumed run would end as if never aborted, or compensated rather
// than aborted when its child's abort was recorded).
// It reports whether the sink holds the request.
func (r *Run[S]) requestAbort() (recorded bool, err error) {
	rec := r.env.opts.aborts
	if rec == nil || !r.recorded.Load() {
		return false, nil // no history yet: a crash leaves nothing to resume
	}
	err = rec.RequestAbort(r.quiet, r.env.runID)
	switch {
	case errors.Is(err, ErrFinished):
		// Over in the sink, maybe not yet here: the run says which.
		return false, nil
	case errors.Is(err, ErrUnknownRun):
		// Resumed from a history kept elsewhere: the sink holds none of
		// the run to resume it from.
		return false, nil
	case err != nil:
		return false, fmt.Errorf("runtime: run %q: recording the abort: %w", r.env.runID, err)
	}
	return true, nil
}

// Suspend stops the run at its next step boundary without ending it, for a
// process that shuts down: the transition being recorded is recorded, a
// step or rollback attempt in flight finishes (a backoff between attempts
// is cut short, a rollback's too), then the run's goroutine ends, or its
// wait is let go (its subscription cancelled, its timer stopped). Nothing is recorded for the suspension: the
// run leaves the flow's live runs, Done is closed, Wait returns the state so
// far with Final the run state it was in and an error wrapping ErrSuspended,
// and Resume continues it from its history, here or in another process. It
// returns ErrFinished if the run is over, and nil if it is suspended
// already.
func (r *Run[S]) Suspend() error {
	p, over := r.interrupt(func() {
		if r.suspending.CompareAndSwap(false, true) {
			close(r.suspendChan())
		}
	})
	if over {
		if r.suspended() {
			return nil
		}
		return ErrFinished
	}
	if p != nil {
		r.wake(p, wakeSuspend, nil, nil)
	}
	return nil
}

// interrupt marks the run for Abort or Suspend (mark cancels its context,
// or sets suspending) and returns its wait, if it is parked, or over if
// the run has ended. The mark comes before the look for the wait: park
// makes its wait visible before it checks for the marks, so either park
// sees the mark and wakes itself, or this sees the wait. The other order
// could miss both, and the run would wait on, neither aborted nor
// suspended.
func (r *Run[S]) interrupt(mark func()) (p *parking, over bool) {
	r.mu.Lock()
	over = r.over
	r.mu.Unlock()
	if over {
		return nil, true
	}
	mark()
	if fn := r.env.opts.interrupting; fn != nil {
		fn()
	}
	r.mu.Lock()
	p = r.parked
	r.mu.Unlock()
	return p, false
}

// Status returns the run's current status. With a sink that loads
// histories it is the Replay of the run's history as the sink has it, so the
// two always agree (if the history does not load, Err says why); otherwise
// it is folded from the events the sink accepted, which is the same thing.
func (r *Run[S]) Status() Status {
	r.mu.Lock()
	var st Status
	if r.track != nil {
		st = r.track.status()
	}
	halted := r.halted
	r.mu.Unlock()
	if l := r.env.opts.loader; l != nil {
		h, err := l.LoadHistory(context.Background(), r.env.runID)
		if err == nil {
			st, err = Replay(h)
		}
		if err != nil {
			st = Status{State: StatePending, Machine: MachinePending, Err: "runtime: loading the run's history: " + err.Error()}
		}
	}
	st.RunID, st.Flow = r.env.runID, r.def.id
	if halted != nil {
		st.State, st.Err, st.Retrying, st.RetryAt = StateFailed, halted.Error(), false, time.Time{}
	}
	return st
}

// loop drives the run from its current state until it ends or waits.
func (r *Run[S]) loop() {
	for {
		if r.suspending.Load() && r.cur.kind != kindTerminal {
			r.finishSuspended()
			return
		}
		var err error
		switch st := r.cur; st.kind {
		case kindPending:
			err = r.begin()
		case kindRunning:
			err = r.runStep(&r.def.steps[st.step])
		case kindWaiting:
			// A retry that waits again (Await.EachAttempt) waits out its
			// backoff first: an abort then is the wait's (park), a
			// Suspend keeps the run in it.
			r.sleepUntil(r.ctx, r.progress.retryAt)
			if r.suspending.Load() {
				r.finishSuspended()
				return
			}
			r.park()
			return
		case kindFailing, kindAborting:
			err = r.unwind(st.kind)
		case kindRollback:
			// The backoff after a retry, whatever the rollback: an abort
			// does not cut it (rollbacks finish whatever happens),
			// Suspend does.
			if r.sleepRollback(r.progress.retryAt) {
				r.finishSuspended()
				return
			}
			switch d := &r.def.steps[st.step]; {
			case d.rollbackCall != nil:
				r.parkRollback(d) // rollbackwait.go
				return
			case d.RollbackAwait != nil && !r.progress.gateOpen:
				r.parkGatedRollback(d) // rollbackwait.go
				return
			}
			err = r.runRollback(&r.def.steps[st.step])
		case kindParallel:
			err = r.runParallel(&r.def.steps[st.step])
		case kindTerminal:
			r.finish(nil)
			return
		}
		if errors.Is(err, errSuspend) {
			r.finishSuspended()
			return
		}
		if err != nil {
			r.finish(err)
			return
		}
	}
}

// runStep runs the current step's attempts and moves the run on.
func (r *Run[S]) runStep(d *stepDef[S]) error {
	p := &r.progress
	v := visitRun[S]{d: d, ctx: r.ctx, state: &r.state, attempt: &p.attempt, entered: p.entered, retryAt: p.retryAt}
	out, err, stop := r.attempts(&v)
	switch {
	case stop == errNotRun: // aborted before an attempt started
		return r.fire(evAbort, 0, "", ErrAborted)
	case stop == errHistoryFull:
		// The step did not run: it is not rolled back, those before it are.
		return r.fire(evFail, p.attempt, OutcomeError, err)
	case stop == errCancelled && err != nil:
		return r.fire(evAbort, p.attempt, failedOutcome(err), err)
	case stop == errCancelled:
		return r.fire(evAbort, p.attempt, okOutcome(out), nil)
	case stop == errRewait:
		return nil // the loop parks the run
	case stop != nil:
		return stop
	}
	if err == nil {
		// The machine knows the outcomes the flow routes; another one fails
		// the step. So does one of the runtime's own, which the machine
		// knows too (ReturnedOutcome).
		out, bad := ReturnedOutcome(out)
		if bad == nil {
			if err := r.fire(out, p.attempt, out, nil); !errors.Is(err, errNoSuchEvent) {
				return err
			}
			bad = outcomeUnknown(out)
		}
		return r.fire(evFail, p.attempt, out, bad)
	}
	out = failedOutcome(err)
	return r.fire(out, p.attempt, out, err)
}

// Why attempts stopped without a result.
var (
	errNotRun      = errors.New("runtime: cancelled before an attempt")
	errCancelled   = errors.New("runtime: cancelled after an attempt") // out, err say how it ended
	errSuspend     = errors.New("runtime: suspend")                    // before a retry of a suspended run
	errHistoryFull = errors.New("runtime: history full")               // before an attempt; err says why
	errRewait      = errors.New("runtime: the retry waits")            // the run is in the step's waiting state again
)

// errNoSuchEvent marks a machine event the current state does not have:
// for an outcome, one the flow does not route.
var errNoSuchEvent = errors.New("no such transition")

// finishSuspended ends the run's life in this process without ending the
// run (Suspend).
func (r *Run[S]) finishSuspended() {
	r.fin = &runFinal[S]{result: Result[S]{RunID: r.env.runID, State: r.state, Final: r.cur.kind.runState(r.cur.name),
		Err: fmt.Errorf("%w: run %q in %s", ErrSuspended, r.env.runID, r.cur.name)}}
	r.release(nil)
}

// finish records the result, releases the run's resources and wakes Wait.
func (r *Run[S]) finish(halt error) {
	res := Result[S]{RunID: r.env.runID, State: r.state}
	if halt != nil {
		res.Final, res.Err = StateFailed, halt
	} else {
		res.Final = RunState(r.cur.name)
		res.Err = r.resultErr(res.Final)
	}
	r.fin = &runFinal[S]{result: res}
	r.release(halt)
}

// release gives back the run's machine and live slot and wakes Wait.
func (r *Run[S]) release(halt error) {
	r.tellLeaving() // a run halted or suspended: before Done
	if r.machine != nil {
		r.def.machines.Put(r.machine)
		r.machine = nil
	}
	r.flow.removeLive(r)
	if r.stopCancelWatch != nil && !r.stopCancelWatch() {
		// The context ended first, and its abort is being recorded: the
		// run ends once that is done (or its failure logged), so nothing
		// of the run goes on after Done.
		<-r.cancelRecorded
	}
	r.cancel(nil)
	if r.obs != nil { // before Done: whoever waits for the run sees it observed
		r.obs.Ended(r.fin.result.Final, r.fin.result.Err)
	}
	r.mu.Lock()
	r.halted = halt
	r.over = true
	end, fns := r.takeEnds(halt)
	if r.done != nil {
		close(r.done)
	}
	r.mu.Unlock()
	if fn := r.env.opts.ended; fn != nil {
		fn(r.env.runID, r.fin.result.Final, r.fin.result.Err)
	}
	for _, fn := range fns {
		fn(end)
	}
}

// tellLeaving calls the WithRunLeaving function, once for the goroutine
// driving the run: before the run's final event, or the event that enters
// its wait, goes to the sink (recordEvent), or before Done for a run that
// records none (release). woken lets the next goroutine tell it again.
func (r *Run[S]) tellLeaving() {
	if r.toldLeaving {
		return
	}
	r.toldLeaving = true
	if fn := r.env.opts.leaving; fn != nil {
		fn(r.env.runID)
	}
}

func (r *Run[S]) resultErr(final RunState) error {
	cause := r.progress.cause
	if cause == nil && final != StateDone {
		cause = ErrAborted
		if c := context.Cause(r.ctx); c != nil && c != ErrAborted {
			cause = fmt.Errorf("%w: %w", ErrAborted, c)
		}
	}
	switch final {
	case StateDone:
		return nil
	case StateCompensationFailed:
		return errors.Join(append([]error{cause}, r.progress.rollbackErrs...)...)
	}
	return cause
}
