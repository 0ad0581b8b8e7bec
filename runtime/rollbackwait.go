package runtime

import (
	"errors"
	"sync"
	"time"
)

// Rollback calls, and rollbacks gated by an event, wait without a goroutine.
//
// The rollback of a step built with WithRollbackCall runs a child run per
// attempt. The attempt is recorded as it starts (the event that enters
// "X:rollback", or the retry before it), and that event names its child in
// Wait.Child: ChildRunID of the rollback's key and the attempt, so Status
// shows what the rollback waits for, and Children has it from the start
// (unless it could not be started: ErrChildNotStarted). While the child runs, the parent
// parks as a waiting step does: it starts the child or finds it (live,
// resumed from its history, or ended already), asks for its end, arms the
// rollback's timeout if it has one (from the attempt's start, as recorded,
// so a restart does not give it more time), hibernates, and its goroutine
// ends. The child's end wakes it: done ends the rollback ok; any other end
// fails the attempt with a *ChildError, which the rollback's retry policy
// retries with a new child. An abort changes nothing (a rollback finishes
// whatever happens); Suspend lets the wait go, and Resume parks again on the
// same child. A compensation flow that awaits or sleeps thus holds no
// goroutine for as long as it takes.
//
// A rollback with a RollbackAwait parks the same way before each attempt:
// the event that starts the attempt records the Wait (its correlation and
// deadline), the run subscribes and hibernates, and the delivery is
// recorded (the rollback's state to itself, gateOpened) and runs the
// attempt on the goroutine that wakes it. Its deadline passing fails the
// attempt; Resume parks again with the recorded wait, or, after the
// delivery's event, runs the attempt.

// rollbackWait is what the event that starts an attempt of d's rollback
// records when the rollback is a call: the attempt's child, in Wait.Child
// (nil for another rollback). The event leaves from: the unwind (the first
// attempt), or the rollback itself (a retry, after attempt ended).
func (r *Run[S]) rollbackWait(d *stepDef[S], from *mstate, ended int, now time.Time) *Wait {
	if d.RollbackAwait != nil {
		return rollbackAwaitWait(d, &r.state, now)
	}
	if d.rollbackCall == nil {
		return nil
	}
	p := &r.progress
	visit, attempt := p.undoing.visit, ended+1
	if from.kind != kindRollback {
		n := len(p.stack)
		if n == 0 {
			return nil // not a rollback of the last completed step: apply refuses it
		}
		visit, attempt = p.stack[n-1].visit, 1
	}
	w := &Wait{Child: r.rollbackChildAt(d, visit, attempt)}
	if d.RollbackTimeout > 0 {
		w.Deadline = rollbackDeadline(d, now)
	}
	return w
}

// rollbackAwaitWait is what an attempt of d's rollback, gated by
// RollbackAwait, that started at start waits for before it runs: its
// correlation read from state, its deadline from start.
func rollbackAwaitWait[S any](d *stepDef[S], state *S, start time.Time) *Wait {
	a := d.RollbackAwait
	w := &Wait{Topic: a.Topic, Event: a.Event, Field: a.Field}
	if a.Correlate != nil {
		w.Correlated, w.Correlation = true, a.Correlate(state)
	}
	if a.Timeout > 0 {
		w.Deadline = start.Add(a.Timeout)
	}
	return w
}

// rollbackDeadline is when an attempt of d's rollback that started at
// start times out.
func rollbackDeadline[S any](d *stepDef[S], start time.Time) time.Time {
	return start.Add(d.RollbackTimeout)
}

// parkGatedRollback parks the run until the event the rollback attempt of
// d in flight awaits (RollbackAwait) comes, as the event that started the
// attempt recorded it (rollbackWait, from the state and time of that
// event, which are the run's now); the attempt then runs.
func (r *Run[S]) parkGatedRollback(d *stepDef[S]) {
	w := rollbackAwaitWait(d, &r.state, r.lastTime)
	w.Flow, w.RunID, w.Step = r.def.id, r.env.runID, d.ID
	w.Key = Key{RunID: r.env.runID, Step: d.ID, Visit: int(r.progress.undoing.visit), Rollback: true}.String()
	p := &parking{wait: *w, armed: make(chan struct{}), rollback: true, gate: true}
	r.parkOn(p)
	defer close(p.armed)
	// The subscription before the timer, as park's: an event received in
	// time is taken before a timer already due fires.
	cancel, err := r.subscribe(p)
	r.rollbackArmed(p, err, func() { p.cancelSub = sync.OnceFunc(cancel) })
	if !w.Deadline.IsZero() {
		p.stopTimer = afterFuncAt(r.clock, w.Deadline, r.timerFired(p, wakeTimeout))
	}
}

// rollbackArmed ends the arming of rollback parking p: a failure to arm
// (err) fails the attempt, unless the process is shutting down; else keep
// records what to undo when it wakes. A Suspend meanwhile lets it go.
func (r *Run[S]) rollbackArmed(p *parking, err error, keep func()) {
	switch {
	case err != nil && r.suspending.Load(): // the process shuts down: no failure to record
		r.wake(p, wakeSuspend, nil, nil)
	case err != nil:
		r.wake(p, wakeError, nil, err)
	default:
		keep()
		if r.suspending.Load() { // suspended while entering the wait
			r.wake(p, wakeSuspend, nil, nil)
		}
	}
}

// parkRollback parks the run on the child of the rollback call of d in
// flight, which the event that started the attempt named (rollbackWait).
func (r *Run[S]) parkRollback(d *stepDef[S]) {
	ref := r.rollbackChild(d, r.progress.attempt)
	var input any
	if in := d.rollbackCall.Input; in != nil {
		input = in(&r.state) // before the state goes
	}
	r.clean = false
	ctx, endSpan := r.observeRollback(d)
	p := &parking{wait: Wait{Child: ref}, armed: make(chan struct{}), rollback: true, endSpan: endSpan}
	r.parkOn(p)
	defer close(p.armed)

	if d.RollbackTimeout > 0 {
		at := rollbackDeadline(d, r.lastTime) // the attempt started with the last event
		p.stopTimer = afterFuncAt(r.clock, at, func() {
			<-p.armed
			if r.wake(p, wakeTimeout, nil, nil) && p.abortChild != nil {
				_ = p.abortChild()
			}
		})
	}
	abort, err := r.env.opts.childRuns(d.rollbackCall.Runs).AttachChild(ctx, ref.Flow, ref.RunID, RunRef{Flow: r.def.id, RunID: r.env.runID},
		func() any { return input },
		func(e RunEnd) {
			switch {
			case errors.Is(e.Err, ErrSuspended):
				r.wake(p, wakeSuspend, nil, nil) // Resume finds the child again
			case e.Final == StateDone:
				r.wake(p, wakeChild, nil, nil)
			default:
				// Not permanent: the rollback's retry runs a new child.
				r.wake(p, wakeError, nil, &ChildError{Child: *ref, Final: e.Final, Err: e.Err})
			}
		})
	p.unstarted = errors.Is(err, ErrChildNotStarted)
	r.rollbackArmed(p, err, func() { p.abortChild = abort })
}

// rollbackWoken records how the rollback attempt p waited for ended and
// drives the run on.
func (r *Run[S]) rollbackWoken(p *parking, kind wakeKind, msg *Delivery, err error) {
	d := &r.def.steps[r.cur.step]
	switch {
	case p.gate && kind == wakeEvent:
		// What the attempt waited for came: recorded (the wait is over,
		// and a resume runs the attempt rather than waits again), the loop
		// runs it.
		r.next = msg.wakeEvent()
		if ferr := r.fireNext(evWake); ferr != nil {
			r.finish(ferr)
			return
		}
		r.loop()
		return
	case p.gate && kind == wakeTimeout:
		err = p.wait.TimeoutError()
		// The attempt ends timeout without its code having run: observers
		// see it as an attempt all the same (flowgen_rollbacks_total, a
		// rollback span), as they would a rollback past its timeout.
		_, p.endSpan = r.observeRollback(d)
	case kind == wakeChild:
		err = nil
	case kind == wakeTimeout:
		err = RollbackCallTimeout(d.RollbackTimeout)
	}
	if p.endSpan != nil {
		p.endSpan(attemptOutcome("", err), err)
	}
	if _, ferr := r.rollbackEnded(d, err); ferr != nil {
		if errors.Is(ferr, errSuspend) {
			r.finishSuspended()
			return
		}
		r.finish(ferr)
		return
	}
	r.loop()
}
