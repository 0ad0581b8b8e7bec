package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
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
	clock  Clock
	sink   Sink
	obs    RunObserver // nil without WithObserver (observe.go)
	traced bool        // an event of this life carries obs.Trace()
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
	firstCtxs  []stepCtx // the contexts of first attempts (stepContext)

	suspending atomic.Bool
	recorded   atomic.Bool   // the run's first event is recorded: it exists
	suspendCh  chan struct{} // closed by Suspend: ends a backoff

	mu sync.Mutex // guards settled, ready, track, parked, halted, over and done
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
}

// errAttemptTimeout is the cancellation cause of an attempt's context when
// its timeout passes.
var errAttemptTimeout = fmt.Errorf("%w: attempt deadline passed", ErrTimeout)

// newRun makes a run: a new one, or with history, the run it continues.
func (f *Flow[S]) newRun(ctx context.Context, state S, history []Event, opts []RunOption) (*Run[S], error) {
	def, err := f.definition()
	if err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var ro runOptions
	for _, o := range opts {
		o(&ro)
	}
	var id string
	if len(history) > 0 {
		id = history[0].RunID
	}
	switch {
	case id == "":
		id = ro.id
	case ro.id != "" && ro.id != id:
		return nil, fmt.Errorf("%w: resuming run %q with run ID %q", ErrHistory, id, ro.id)
	}
	if id == "" {
		id = f.opts.ids()
	}
	r := &Run[S]{
		flow:      f,
		def:       def,
		env:       runEnv{runID: id, flow: f.id, opts: &f.opts},
		clock:     f.opts.clock,
		sink:      f.opts.sink,
		state:     state,
		cur:       statePending,
		progress:  def.newProgress(),
		suspendCh: make(chan struct{}),
		parent:    ro.parent,
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
	ctx = r.observe(ctx, history)
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	r.quiet = ctx // the run's values without its cancellation
	if ctx.Done() != nil {
		r.quiet = context.WithoutCancel(r.ctx)
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
	r.settle()
	return nil
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
// rollback finishes. It returns ErrFinished if the run is over. A nil error
// means the abort was taken, not that the run will end aborted: a run that
// had recorded its end (done) as Abort came, and was still letting go of
// its resources, stays done.
func (r *Run[S]) Abort() error {
	p, over := r.interrupt(func() { r.cancel(ErrAborted) })
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

// Suspend stops the run at its next step boundary without ending it, for a
// process that shuts down: the transition being recorded is recorded, a
// step or rollback attempt in flight finishes (a backoff between attempts
// is cut short, a rollback's too), then the run's goroutine ends, or its
// wait is let go (its subscription cancelled, its timer stopped). Nothing is recorded for the suspension: the
// run leaves the flow's live runs, Done is closed, Wait returns the state so
// far with Final the run state it was in and an error wrapping ErrSuspended,
// and Resume continues it from its history, here or in another process. It
// returns ErrFinished if the run is over.
func (r *Run[S]) Suspend() error {
	p, over := r.interrupt(func() {
		if r.suspending.CompareAndSwap(false, true) {
			close(r.suspendCh)
		}
	})
	if over {
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
		st.State, st.Err = StateFailed, halted.Error()
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
			r.park()
			return
		case kindFailing, kindAborting:
			err = r.unwind(st.kind)
		case kindRollback:
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
	v := visitRun[S]{d: d, ctx: r.ctx, state: &r.state, attempt: &p.attempt, entered: p.entered}
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
	case stop != nil:
		return stop
	}
	if err == nil {
		out = okOutcome(out)
		// The machine knows the outcomes the flow routes; another one fails
		// the step.
		if err := r.fire(out, p.attempt, out, nil); !errors.Is(err, errNoSuchEvent) {
			return err
		}
		return r.fire(evFail, p.attempt, out, fmt.Errorf("%w %q", ErrUnknownOutcome, out))
	}
	out = failedOutcome(err)
	return r.fire(out, p.attempt, out, err)
}

// visitRun is one visit of a step whose attempts run: the run's current
// step (on the run's state and progress), or a branch of a parallel block
// (on its own goroutine and copy of the state).
type visitRun[S any] struct {
	d       *stepDef[S]
	ctx     context.Context // ends the attempts: the run's abort, or the block's cancellation
	state   *S
	attempt *int
	entered time.Time // Step.Deadline counts from it
	visit   int32     // a branch's visit (the run's progress has the current step's)
	// msgs is nil for the run's current step; a branch sends its retries
	// to the run's goroutine, which records them.
	msgs chan<- branchMsg[S]
}

// Why attempts stopped without a result.
var (
	errNotRun      = errors.New("runtime: cancelled before an attempt")
	errCancelled   = errors.New("runtime: cancelled after an attempt") // out, err say how it ended
	errSuspend     = errors.New("runtime: suspend")                    // before a retry of a suspended run
	errHistoryFull = errors.New("runtime: history full")               // before an attempt; err says why
)

// attempts runs v's attempts, with their backoffs and the step's deadline,
// until one succeeds or the step fails (out, err), or it stops (stop: its
// context ended, the run is suspending, or recording a retry failed).
func (r *Run[S]) attempts(v *visitRun[S]) (out Outcome, err error, stop error) {
	d := v.d
	for {
		if v.ctx.Err() != nil && !r.callReturned(v) {
			return "", nil, errNotRun
		}
		if *v.attempt > 1 && r.suspending.Load() { // the retry is recorded
			return "", nil, errSuspend
		}
		if v.msgs == nil { // a branch cannot loop: its attempts bound its events
			if err := r.historyFull(); err != nil {
				return "", err, errHistoryFull
			}
		}
		timeout := d.Timeout
		var cut time.Time // the deadline, when it bounds this attempt before its timeout does
		if d.Deadline > 0 {
			end := v.entered.Add(d.Deadline)
			left := end.Sub(r.clock.Now())
			if left <= 0 { // only after Resume or a wait: attempts never outlive the deadline
				*v.attempt--
				return "", DeadlinePassed(d.Deadline), nil
			}
			if timeout <= 0 || left < timeout {
				timeout, cut = left, end
			}
		}
		out, err = r.attempt1(v, timeout)
		if v.ctx.Err() != nil {
			return out, err, errCancelled
		}
		if !cut.IsZero() && errors.Is(err, ErrTimeout) && !r.clock.Now().Before(cut) {
			// The deadline cut the attempt: the step's budget is spent.
			// Its error names the deadline, not the time that happened to
			// be left (the same on every executor: Temporal's
			// ScheduleToClose).
			return "", DeadlinePassed(d.Deadline), nil
		}
		if err == nil || IsPermanent(err) || *v.attempt >= d.attempts {
			return out, err, nil
		}
		wait := backoff(d.Retry, *v.attempt)
		if d.Deadline > 0 && !r.clock.Now().Add(wait).Before(v.entered.Add(d.Deadline)) {
			return "", NoTimeForRetry(d.Deadline, *v.attempt+1, err), nil
		}
		if err := r.retried(v, err); err != nil {
			return "", nil, err
		}
		r.sleep(v.ctx, wait) // an abort is seen at the top
	}
}

// callReturned reports whether v is a call step woken by its child's end:
// the child is done, so the step takes its result even when the run is
// being aborted (then it is rolled back as a completed step).
func (r *Run[S]) callReturned(v *visitRun[S]) bool {
	return v.msgs == nil && v.d.Call != nil && r.progress.payload != nil
}

// retried records that v's attempt failed and another follows.
func (r *Run[S]) retried(v *visitRun[S], err error) error {
	if v.msgs == nil {
		return r.fire(OutcomeRetry, *v.attempt, OutcomeRetry, err) // the record counts the attempt
	}
	done := make(chan error, 1)
	v.msgs <- branchMsg[S]{branch: v.d.index, retry: true, attempt: *v.attempt, err: err, done: done}
	if err := <-done; err != nil {
		return err
	}
	*v.attempt++
	return nil
}

func okOutcome(out Outcome) Outcome {
	if out == "" {
		return OutcomeOK
	}
	return out
}

func failedOutcome(err error) Outcome {
	if errors.Is(err, ErrTimeout) {
		return OutcomeTimeout
	}
	return OutcomeError
}

// unwind rolls back the most recent completed step, or ends the run.
func (r *Run[S]) unwind(kind stateKind) error {
	p := &r.progress
	if n := len(p.stack); n > 0 {
		return r.fire(evUndo(r.def.steps[p.stack[n-1].step].ID), 0, "", nil)
	}
	return r.fire(evEnd(p.terminal(kind)), 0, "", nil)
}

// runRollback runs the current rollback's attempts and returns to unwind.
// A gated rollback runs the one attempt whose gate opened: the loop parks
// it again before the next.
func (r *Run[S]) runRollback(d *stepDef[S]) error {
	for {
		err := r.rollback1(d)
		if errors.Is(err, ErrSuspended) && r.suspending.Load() {
			// A rollback that stopped because the process shuts down (a
			// rollback call run through Step.Rollback, outside the loop's
			// parking): Resume runs it again.
			return errSuspend
		}
		if again, ferr := r.rollbackEnded(d, err); ferr != nil || !again || d.RollbackAwait != nil {
			return ferr
		}
	}
}

// rollbackEnded moves the run on from a rollback attempt of d that ended
// with err: back to the unwind, or, when it failed and may be retried, to
// the next attempt (again), the retry recorded and its backoff waited.
func (r *Run[S]) rollbackEnded(d *stepDef[S], err error) (again bool, ferr error) {
	p := &r.progress
	if err != nil && !IsPermanent(err) && p.attempt < d.rbAttempts {
		if err := r.fire(OutcomeRetry, p.attempt, OutcomeRetry, err); err != nil {
			return false, err
		}
		// The retry is recorded: a suspended run (a process that shuts
		// down) stops here rather than after the rollback's last attempt,
		// and Resume runs the next attempt. An abort changes nothing.
		if r.sleepRollback(backoff(d.RollbackRetry, p.attempt-1)) {
			return false, errSuspend
		}
		return true, nil
	}
	back := evBackFailing
	if p.cause == nil {
		back = evBackAborting
	}
	if err != nil {
		return false, r.fire(back, p.attempt, OutcomeError, err)
	}
	return false, r.fire(back, p.attempt, OutcomeOK, nil)
}

// attempt1 runs one attempt of v's step. Changes to the state survive only
// if the attempt succeeds.
func (r *Run[S]) attempt1(v *visitRun[S], timeout time.Duration) (Outcome, error) {
	d := v.d
	if v.msgs == nil {
		r.clean = false // a branch's changes reach the run's state when it completes
	}
	if d.Exec == nil && len(d.Publish) == 0 { // a step that only waits
		return OutcomeOK, nil
	}
	parent, end := r.observeAttempt(v)
	sc := r.visitContext(v, parent)
	var out Outcome
	var err error
	if timeout > 0 {
		out, err = r.guarded(d, false, sc, v.state, timeout)
	} else {
		saved := *v.state
		out, err = d.exec(sc, v.state, r.env.opts.pub)
		if err != nil {
			*v.state = saved
		}
	}
	if end != nil {
		end(attemptOutcome(out, err), err)
	}
	return out, err
}

// visitContext returns the context of v's current attempt, under parent
// (v.ctx, or an observer's context derived from it).
func (r *Run[S]) visitContext(v *visitRun[S], parent context.Context) *stepCtx {
	if v.msgs == nil {
		return r.stepContext(parent, v.d, false)
	}
	return &stepCtx{Context: parent, env: &r.env, step: v.d.ID, visit: v.visit, attempt: int32(*v.attempt)}
}

// rollback1 runs one attempt of a rollback, under a context that the run's
// abort does not cancel.
func (r *Run[S]) rollback1(d *stepDef[S]) error {
	r.clean = false
	parent, end := r.observeRollback(d)
	sc := r.stepContext(parent, d, true)
	var err error
	if d.RollbackTimeout > 0 {
		_, err = r.guarded(d, true, sc, &r.state, d.RollbackTimeout)
	} else {
		saved := r.state
		err = d.undo(sc, &r.state)
		if err != nil {
			r.state = saved
		}
	}
	if end != nil {
		end(attemptOutcome("", err), err)
	}
	return err
}

// stepContext returns the context of the current attempt of d.
func (r *Run[S]) stepContext(parent context.Context, d *stepDef[S], rollback bool) *stepCtx {
	p := &r.progress
	var c *stepCtx
	if !rollback && p.attempt == 1 && p.visits[d.index] == 1 {
		// The first attempt of a step's first visit, the common case: its
		// context comes from one block allocated per run (each used once,
		// never changed, so a step may keep its context).
		if r.firstCtxs == nil {
			r.firstCtxs = make([]stepCtx, len(r.def.steps))
		}
		c = &r.firstCtxs[d.index]
	} else {
		c = new(stepCtx)
	}
	*c = stepCtx{Context: parent, env: &r.env, step: d.ID, visit: p.visits[d.index], attempt: int32(p.attempt), rollback: rollback}
	if rollback {
		c.visit = p.undoing.visit
	} else {
		c.payload = p.payload
	}
	return c
}

type attemptResult struct {
	out Outcome
	err error
}

// guarded runs an attempt on its own goroutine, on a copy of state, so
// that the run can abandon it when its timeout passes even if it ignores its
// context. The copy replaces *state only if the attempt succeeds in time.
// sc is the attempt's context; its parent is replaced by one the timeout
// cancels.
func (r *Run[S]) guarded(d *stepDef[S], rollback bool, sc *stepCtx, state *S, timeout time.Duration) (Outcome, error) {
	actx, cancel := context.WithCancelCause(sc.Context)
	defer cancel(nil)
	if r.env.opts.realClock {
		// A real deadline too, so that clients honouring deadlines see it.
		var c context.CancelFunc
		actx, c = context.WithTimeoutCause(actx, timeout, errAttemptTimeout)
		defer c()
	}
	expired, stop := ClockTimer(r.clock, timeout)
	defer stop()
	sc.Context = actx
	work := *state
	results := make(chan attemptResult, 1)
	pub := r.env.opts.pub
	go func() {
		var res attemptResult
		if rollback {
			res.err = d.undo(sc, &work)
		} else {
			res.out, res.err = d.exec(sc, &work, pub)
		}
		results <- res
	}()
	done := actx.Done()
	for {
		select {
		case res := <-results:
			timedOut := context.Cause(actx) == errAttemptTimeout
			if res.err == nil {
				*state = work
			} else if timedOut && !errors.Is(res.err, ErrTimeout) {
				res.err = fmt.Errorf("%w after %v: %w", ErrTimeout, timeout, res.err)
			}
			return res.out, res.err
		case <-expired:
			cancel(errAttemptTimeout)
			r.abandoned(d, timeout)
			return "", AttemptTimeout(timeout)
		case <-done:
			if context.Cause(actx) == errAttemptTimeout {
				r.abandoned(d, timeout)
				return "", AttemptTimeout(timeout)
			}
			// The run was aborted: the step is cancelled; wait for it to
			// return, or for its timeout.
			done = nil
		}
	}
}

func (r *Run[S]) abandoned(d *stepDef[S], timeout time.Duration) {
	if l := r.env.opts.logger; l != nil {
		l.Warn("flow step abandoned after its timeout", "flow", r.def.id, "run_id", r.env.runID, "step", d.ID, "timeout", timeout)
	}
}

// exec runs Exec (none for a step that only waits) and the step's
// publications, turning a panic into an error.
func (d *stepDef[S]) exec(ctx context.Context, s *S, pub Publisher) (out Outcome, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = "", &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	if d.Exec != nil {
		out, err = d.Exec(ctx, s)
	}
	if err != nil || len(d.Publish) == 0 {
		return out, err
	}
	for _, p := range d.Publish {
		var payload any
		if p.Payload != nil {
			payload = p.Payload(s)
		}
		if err := pub.Publish(ctx, p.Topic, p.Event, payload); err != nil {
			return "", fmt.Errorf("publishing %s %s: %w", p.Topic, p.Event, err)
		}
	}
	return out, nil
}

// undo runs Rollback, turning a panic into an error.
func (d *stepDef[S]) undo(ctx context.Context, s *S) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return d.Rollback(ctx, s)
}

// backoff is the sleep before attempt failed+1: the policy's ceiling, or a
// uniform draw below it with full jitter.
func backoff(p RetryPolicy, failed int) time.Duration {
	d := p.backoff(failed)
	if p.Jitter && d > 0 {
		return time.Duration(rand.Int64N(int64(d) + 1))
	}
	return d
}

// sleep waits d on the run's clock, or until ctx ends (the run is aborted,
// a branch cancelled) or the run is suspended.
func (r *Run[S]) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	c, stop := ClockTimer(r.clock, d)
	select {
	case <-c:
	case <-ctx.Done():
		stop()
	case <-r.suspendCh:
		stop()
	}
}

// sleepRollback waits d on the run's clock, the backoff between attempts
// of a rollback: an abort does not cut it (rollbacks finish whatever
// happens), Suspend does. It reports whether the run is suspending.
func (r *Run[S]) sleepRollback(d time.Duration) bool {
	r.sleep(context.Background(), d)
	return r.suspending.Load()
}

// fire moves the run's machine by event ev: the machine decides where the
// event leads (the flow's routing is its table) and refuses a move the flow
// does not have. The move is then recorded (record) before anything else
// happens; a sink that refuses the event undoes the move and stops the run,
// so the machine never gets ahead of the history. err is the attempt's
// error, if it failed.
func (r *Run[S]) fire(ev string, attempt int, out Outcome, err error) error {
	r.next = nextEvent{attempt: attempt, outcome: out, err: err}
	if err != nil {
		r.next.errText = err.Error()
	}
	return r.fireNext(ev)
}

func (r *Run[S]) fireNext(ev string) error {
	from := r.cur
	if err := r.machine.Event(context.Background(), ev); err != nil && !isNoTransition(err) {
		var invalid fsm.InvalidEventError
		var unknown fsm.UnknownEventError
		if errors.As(err, &invalid) || errors.As(err, &unknown) {
			return fmt.Errorf("%w: %w", errNoSuchEvent, r.def.illegal(from.name, ev, err))
		}
		return r.def.illegal(from.name, ev, err)
	}
	if err := r.record(from, r.def.states[r.machine.Current()]); err != nil {
		r.machine.SetState(from.name) // the move did not happen: nothing recorded it
		return err
	}
	return nil
}

// errNoSuchEvent marks a machine event the current state does not have:
// for an outcome, one the flow does not route.
var errNoSuchEvent = errors.New("no such transition")

// record builds the Event of the transition from -> to of the run's
// machine, sends it to the sink, and on success folds it into the run's
// progress and status.
func (r *Run[S]) record(from, to *mstate) error { return r.recordEvent(from, to, nil) }

// recordBranch records the transition from -> to of branch's machine.
func (r *Run[S]) recordBranch(from, to *mstate, branch *stepDef[S]) error {
	return r.recordEvent(from, to, branch)
}

func (r *Run[S]) recordEvent(from, to *mstate, branch *stepDef[S]) error {
	snap, err := r.snapshot()
	if err != nil {
		return fmt.Errorf("runtime: flow %q: state does not encode as JSON: %w", r.def.id, err)
	}
	p := &r.progress
	n := &r.next
	ev := Event{
		RunID:   r.env.runID,
		Seq:     p.seq + 1,
		Time:    r.clock.Now().Round(0), // no monotonic reading: events compare equal after a JSON round trip
		Flow:    r.def.id,
		Step:    r.def.eventStep(from, to),
		From:    from.name,
		To:      to.name,
		Attempt: n.attempt,
		Outcome: n.outcome,
		Error:   n.errText,
		State:   snap,
		Payload: n.payload,
		Link:    n.link,
	}
	if branch != nil {
		ev.Step, ev.Branch = branch.ID, branch.ID
	}
	r.links(&ev, from, to)
	switch {
	case to.kind == kindWaiting && from != to:
		ev.Wait = r.newWait(&r.def.steps[to.step], ev.Time)
	case to.kind == kindRollback && !gateOpened(&ev, to.kind):
		ev.Wait = r.rollbackWait(&r.def.steps[to.step], from, n.attempt, ev.Time)
	}
	if r.obs != nil && !r.traced {
		ev.Trace = r.obs.Trace()
	}
	if err := r.emit(&ev); err != nil {
		if l := r.env.opts.logger; l != nil {
			l.Error("flow sink refused an event; run stopped", "flow", r.def.id, "run_id", r.env.runID, "seq", ev.Seq, "error", err)
		}
		return fmt.Errorf("%w: event %d (%s -> %s): %w", ErrSink, ev.Seq, ev.From, ev.To, err)
	}
	if branch != nil {
		err = p.applyBranch(r.def, branch.index, &ev, from, to)
	} else {
		err = p.apply(r.def, &ev, from, to, n.err)
	}
	if err != nil {
		// The runtime made a history it cannot read back: a bug.
		return fmt.Errorf("runtime: flow %q: %w", r.def.id, err)
	}
	if r.obs != nil {
		r.traced = true
		// A copy, declared here: &ev given to the interface would make
		// every event escape to the heap, observed or not.
		seen := ev
		r.obs.Recorded(&seen)
	}
	if r.track != nil { // else Status replays the sink's history
		r.mu.Lock()
		if branch != nil {
			r.track.applyBranch(&ev, to.kind)
		} else {
			r.track.apply(&ev, from.kind, to.kind, r.def.stepIDOf(to))
		}
		r.mu.Unlock()
	}
	r.lastTime = ev.Time
	if branch != nil {
		return nil
	}
	r.cur = to
	if to.kind == kindRunning && from.kind == kindWaiting {
		r.clean = false // the step runs on the payload
	}
	return nil
}

func (r *Run[S]) emit(e *Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return r.sink.Emit(r.quiet, *e)
}

// snapshot encodes the state. Events share the previous snapshot while no
// action ran, the state is == to the one encoded (a value state), or it
// encodes the same.
func (r *Run[S]) snapshot() (json.RawMessage, error) {
	if r.snap != nil && (r.clean || r.def.valueState && any(r.state) == any(r.snapped)) {
		r.clean = true
		return r.snap, nil
	}
	b, err := json.Marshal(&r.state)
	if err != nil {
		return nil, err
	}
	r.clean = true
	if r.def.valueState {
		r.snapped = r.state
	}
	if !bytes.Equal(b, r.snap) {
		r.snap = b
	}
	return r.snap, nil
}

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
	if r.machine != nil {
		r.def.machines.Put(r.machine)
		r.machine = nil
	}
	r.flow.removeLive(r)
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
