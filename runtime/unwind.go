package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"
)

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
		if r.rollbackBackAtGate(d, err) {
			// The attempt did not begin: back to its gate, recorded (the
			// event records the wait), and the loop parks the run until
			// the same attempt may run.
			return r.fire(OutcomeRetry, r.progress.attempt, "", err)
		}
		if again, ferr := r.rollbackEnded(d, err); ferr != nil || !again || d.RollbackAwait != nil || !r.progress.retryAt.IsZero() {
			// The loop waits out the retry's backoff (and parks a gated
			// rollback's next attempt) before it runs.
			return ferr
		}
	}
}

// rollbackEnded moves the run on from a rollback attempt of d that ended
// with err: back to the unwind, or, when it failed and may be retried, to
// the next attempt (again), the retry recorded with the time that attempt
// may start (progress.retryAt), whose backoff the run's loop waits out.
func (r *Run[S]) rollbackEnded(d *stepDef[S], err error) (again bool, ferr error) {
	p := &r.progress
	if err != nil && !IsPermanent(err) && p.attempt < d.rbAttempts {
		at := retryTime(r.clock.Now(), backoff(d.RollbackRetry, p.attempt))
		if err := r.fireRetry(p.attempt, err, at); err != nil {
			return false, err
		}
		// The retry is recorded: a suspended run (a process that shuts
		// down) stops here rather than after the rollback's last attempt,
		// and Resume runs the next attempt, after the rest of its
		// backoff. An abort changes nothing.
		if r.suspending.Load() {
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

// rollback1 runs one attempt of a rollback, under a context that the run's
// abort does not cancel.
func (r *Run[S]) rollback1(d *stepDef[S]) error {
	r.clean = false
	parent, end := r.observeRollback(d)
	sc := r.stepContext(parent, d, true)
	var err error
	saved := r.state
	if d.RollbackTimeout > 0 {
		_, err = r.guarded(d, true, sc, &r.state, d.RollbackTimeout)
	} else {
		err = d.undo(sc, &r.state)
		if err != nil {
			r.state = saved
		}
	}
	if err == nil {
		err = r.encodes(saved)
	}
	if end != nil {
		oerr := err
		if r.rollbackBackAtGate(d, err) {
			// Back at its gate: part of the wait, no failed attempt.
			oerr = fmt.Errorf("%w: %w", ErrBackAtGate, err)
		}
		end(attemptOutcome("", oerr), oerr)
	}
	return err
}

// rollbackBackAtGate reports whether err, returned by an attempt of d's
// rollback, takes the attempt back to its gate (stepDef.backAtGate). Not
// once the run's history has reached its bound (WithMaxHistory): then it
// is the failed attempt it wraps, which the rollback's retry policy
// bounds, so that a gate that opens and is found closed each time (a
// provider that flaps) cannot grow the history for ever; a step's
// attempts stop at the bound before they run (historyFull).
func (r *Run[S]) rollbackBackAtGate(d *stepDef[S], err error) bool {
	return d.backAtGate(true, err) && r.historyFull() == nil
}

// sleepRollback waits until at on the run's clock, the end of the
// backoff before an attempt of a rollback (zero: none): an abort does not
// cut it (rollbacks finish whatever happens), Suspend does. It reports
// whether the run is suspending.
func (r *Run[S]) sleepRollback(at time.Time) bool {
	r.sleepUntil(context.Background(), at)
	return r.suspending.Load()
}
