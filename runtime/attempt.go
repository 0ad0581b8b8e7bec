package runtime

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"
)

// visitRun is one visit of a step whose attempts run: the run's current
// step (on the run's state and progress), or a branch of a parallel block
// (on its own goroutine and copy of the state).
type visitRun[S any] struct {
	d       *stepDef[S]
	ctx     context.Context // ends the attempts: the run's abort, or the block's cancellation
	state   *S
	attempt *int
	entered time.Time // Step.Deadline counts from it
	retryAt time.Time // when the next attempt may start, as its retry recorded (Event.RetryAt)
	visit   int32     // a branch's visit (the run's progress has the current step's)
	// msgs is nil for the run's current step; a branch sends its retries
	// to the run's goroutine, which records them.
	msgs chan<- branchMsg[S]
}

// attempts runs v's attempts, with their backoffs and the step's deadline,
// until one succeeds or the step fails (out, err), or it stops (stop: its
// context ended, the run is suspending, or recording a retry failed).
func (r *Run[S]) attempts(v *visitRun[S]) (out Outcome, err error, stop error) {
	d := v.d
	for {
		r.sleepUntil(v.ctx, v.retryAt) // the backoff: an abort, a Suspend is seen below
		if v.ctx.Err() != nil && !r.callReturned(v) {
			return "", nil, errNotRun
		}
		if *v.attempt > 1 && r.suspending.Load() { // the retry is recorded
			return "", nil, errSuspend
		}
		if v.msgs == nil { // a branch's retries are checked where they are recorded (runParallel)
			if err := r.historyFull(); err != nil {
				return "", err, errHistoryFull
			}
		}
		timeout := d.Timeout
		var cut time.Time // the deadline, when it bounds this attempt before its timeout does
		if d.Deadline > 0 {
			end := v.entered.Add(d.Deadline)
			now := r.clock.Now()
			if v.msgs == nil && d.OnlyWaits() && !r.progress.woke.IsZero() {
				// A sleep that has nothing to do once it woke ended at
				// its wake-up time, whenever the run saw it (after a
				// process that was down over its deadline too): the
				// deadline bounds the sleep, so it judges that time.
				now = r.progress.woke
			}
			left := end.Sub(now)
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
		if v.msgs == nil && d.backAtGate(false, err) {
			// The attempt did not begin: back to the step's wait,
			// recorded, and the same attempt runs when it ends.
			if err := r.fire(OutcomeRetry, *v.attempt, "", err); err != nil {
				return "", nil, err
			}
			return "", nil, errRewait
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
		now, wait := r.clock.Now(), backoff(d.Retry, *v.attempt)
		if d.Deadline > 0 && !now.Add(wait).Before(v.entered.Add(d.Deadline)) {
			return "", NoTimeForRetry(d.Deadline, *v.attempt+1, err), nil
		}
		v.retryAt = retryTime(now, wait)
		if err := r.retried(v, err); err != nil {
			if v.msgs != nil && errors.Is(err, ErrHistoryLimit) {
				// The retry is recorded, and the history is at its
				// bound: the next attempt does not run, as a step's
				// does not (above), and the branch fails.
				return "", err, errHistoryFull
			}
			return "", nil, err
		}
		if v.msgs == nil && r.cur.kind == kindWaiting {
			// The retry waits (Await.EachAttempt): the loop waits out its
			// backoff, then parks.
			return "", nil, errRewait
		}
	}
}

// callReturned reports whether v is a call step woken by its child's end:
// the child is done, so the step takes its result even when the run is
// being aborted (then it is rolled back as a completed step).
func (r *Run[S]) callReturned(v *visitRun[S]) bool {
	return v.msgs == nil && v.d.Call != nil && r.progress.payload != nil
}

// retried records that v's attempt failed and another follows, at
// v.retryAt.
func (r *Run[S]) retried(v *visitRun[S], err error) error {
	if v.msgs == nil {
		return r.fireRetry(*v.attempt, err, v.retryAt) // the record counts the attempt
	}
	done := make(chan error, 1)
	v.msgs <- branchMsg[S]{branch: v.d.index, retry: true, attempt: *v.attempt, err: err, retryAt: v.retryAt, done: done}
	err = <-done
	if err == nil || errors.Is(err, ErrHistoryLimit) { // recorded: the record counts the attempt
		*v.attempt++
	}
	return err
}

func okOutcome(out Outcome) Outcome {
	if out == "" {
		return OutcomeOK
	}
	return out
}

// ReturnedOutcome is the outcome of an attempt that returned out with a nil
// error, as a run takes it: ok for "", and out otherwise, with an error
// wrapping ErrUnknownOutcome, which fails the step, when out is one of the
// runtime's own (retry, error, timeout). Those are a failed attempt's, no
// step's to give: "retry" would record a retry without an error (a history
// no Resume reads), "error" and "timeout" a failure that did not happen.
// Executors of a flow's steps elsewhere (the Temporal target) call it too.
func ReturnedOutcome(out Outcome) (Outcome, error) {
	out = okOutcome(out)
	if out == OutcomeRetry || out == OutcomeError || out == OutcomeTimeout {
		return out, outcomeUnknown(out)
	}
	return out, nil
}

// outcomeUnknown is the error of an outcome that fails its step: one the
// flow does not route, or one of the runtime's own.
func outcomeUnknown(out Outcome) error { return fmt.Errorf("%w %q", ErrUnknownOutcome, out) }

func failedOutcome(err error) Outcome {
	if errors.Is(err, ErrTimeout) {
		return OutcomeTimeout
	}
	return OutcomeError
}

// attempt1 runs one attempt of v's step. Changes to the state survive only
// if the attempt succeeds.
func (r *Run[S]) attempt1(v *visitRun[S], timeout time.Duration) (Outcome, error) {
	d := v.d
	if v.msgs == nil {
		r.clean = false // a branch's changes reach the run's state when it completes
	}
	if d.OnlyWaits() {
		return OutcomeOK, nil
	}
	parent, end := r.observeAttempt(v)
	sc := r.visitContext(v, parent)
	var out Outcome
	var err error
	saved := *v.state
	if timeout > 0 {
		out, err = r.guarded(d, false, sc, v.state, timeout)
	} else {
		out, err = d.exec(sc, v.state, r.env.opts.pub)
		if err != nil {
			*v.state = saved
		}
	}
	if err == nil && v.msgs == nil {
		if err = r.encodes(saved); err != nil {
			out = ""
		}
	}
	if end != nil {
		// An observer sees a branch cut short by its block as such, not
		// as a failure of its own, nor an attempt back at its gate, and
		// an outcome that fails the step
		// (one its flow does not route) as the failure it is: what it
		// sees stays within the outcomes the flow names.
		oerr := cancelledBranch(v.ctx, err)
		switch {
		case err == nil:
			oerr = r.failsStep(v, out)
		case v.msgs == nil && d.backAtGate(false, err):
			// Back at its gate: part of the wait, no failed attempt.
			oerr = fmt.Errorf("%w: %w", ErrBackAtGate, err)
		}
		end(attemptOutcome(out, oerr), oerr)
	}
	return out, err
}

// encodes checks that the run's state, as a successful attempt of a step
// or a rollback left it, encodes as JSON, the form every event records it
// in. One that does not (a payload taken as it came that is not JSON, a
// NaN) fails the attempt, permanently since it would again, and the state
// goes back to saved, as after any failed attempt: the flow routes the
// failure. Otherwise the event of the attempt's end could not be made, and
// the run would stop with its history still saying it runs. The snapshot
// taken here is the one that event records.
func (r *Run[S]) encodes(saved S) error {
	if _, err := r.snapshot(); err != nil {
		r.state = saved
		return StateNotJSON(err)
	}
	return nil
}

// failsStep is the error that the named outcome out, returned by an
// attempt of v's step, fails the step with: any for a branch of a parallel
// block (BranchEnd), one of the runtime's own (ReturnedOutcome) or one the
// flow does not route for a step (as runStep finds); nil for ok and an
// outcome the flow routes.
func (r *Run[S]) failsStep(v *visitRun[S], out Outcome) error {
	if okOutcome(out) == OutcomeOK {
		return nil
	}
	if v.msgs != nil {
		_, _, err := BranchEnd(out, nil)
		return err
	}
	if _, err := ReturnedOutcome(out); err != nil {
		return err
	}
	_, err := r.def.route(v.d.index, out)
	return err
}

// visitContext returns the context of v's current attempt, under parent
// (v.ctx, or an observer's context derived from it).
func (r *Run[S]) visitContext(v *visitRun[S], parent context.Context) *stepCtx {
	if v.msgs == nil {
		return r.stepContext(parent, v.d, false)
	}
	return &stepCtx{Context: parent, env: &r.env, step: v.d.ID, visit: v.visit, attempt: int32(*v.attempt)}
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
	expired, stop := attemptTimer(r.clock, timeout)
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

// retryTime is what a retry recorded at now, whose next attempt backs
// off for wait, records as the time that attempt may start
// (Event.RetryAt): zero when it need not wait, else without a monotonic
// reading, as the event's time, so that it reads back the same from the
// history.
func retryTime(now time.Time, wait time.Duration) time.Time {
	if wait <= 0 {
		return time.Time{}
	}
	return now.Add(wait).Round(0)
}

// sleepUntil sleeps, as sleep does, until at on the run's clock: the end
// of a backoff a retry recorded (zero, or a time passed: not at all).
func (r *Run[S]) sleepUntil(ctx context.Context, at time.Time) {
	if !at.IsZero() {
		r.sleep(ctx, at.Sub(r.clock.Now()))
	}
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
	case <-r.suspendChan():
		stop()
	}
}
