package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Waiting.
//
// A step with an Await or a Sleep is entered in its waiting state
// ("X:waiting"). The event that enters it records the Wait: what the run
// waits for and its absolute deadline, fixed then. The run then parks: it
// registers with the Subscriber (an await) and arms one timer on the
// flow's clock (the deadline, or a sleep's wake-up time), and its goroutine
// ends. Whichever comes first of a delivery, the timer and an abort wakes
// the run on a new goroutine; the others find the parking gone. Resume of a
// run whose history ends waiting parks it again with the recorded Wait, so
// a deadline does not start over after a restart.

// parking is one wait of a run; the run's parked field points to it while
// nothing has woken it.
type parking struct {
	wait      Wait
	armed     chan struct{} // closed once the timer and subscription are set up
	stopTimer func() bool
	cancelSub func()
	// stopWatch stops watching the run's context (park), if it does.
	stopWatch func() bool
	// abortChild aborts the child run a call waits for (set once armed).
	abortChild func() error
	// unstarted: attaching the child failed with ErrChildNotStarted.
	unstarted bool
	// rollback: the run waits for the child of a rollback call's attempt
	// (rollbackwait.go), which an abort does not end; endSpan ends the
	// attempt's span, if observed.
	rollback bool
	endSpan  func(Outcome, error)
	// gate: the rollback attempt waits for an event (RollbackAwait)
	// before it runs, rather than for a child.
	gate bool
}

type wakeKind uint8

const (
	wakeEvent   wakeKind = iota // a delivery: the step runs on its payload
	wakeTime                    // a sleep's time came: the step runs
	wakeTimeout                 // the deadline passed: outcome "timeout"
	wakeAbort                   // Abort
	wakeError                   // the Subscriber failed: outcome "error"
	wakeSuspend                 // Suspend: let the wait go, record nothing
	wakeChild                   // a call's child ended done: the step runs on its final state
)

// newWait computes the wait of step d entered at now (Step.NewWait), and
// the child run a call waits for. The run's identity (Flow, RunID, Step,
// Key) is filled in by progress.apply.
func (r *Run[S]) newWait(d *stepDef[S], now time.Time) *Wait {
	w := d.NewWait(&r.state, now)
	if d.Call != nil {
		w.Child = r.callChild(d)
	}
	return w
}

// NewWait is the wait of st entered at now with the run's state s: the
// event it awaits and its correlation value read from s, a sleep's
// wake-up time, and the deadline (the earlier of the await's timeout and
// the step's Deadline) made absolute. Not the child of a call, nor the
// run's identity. Other executors (the Temporal target) compute a wait
// with it, so that it is the runtime's.
func (st *Step[S]) NewWait(s *S, now time.Time) *Wait {
	w := &Wait{}
	if a := st.Await; a != nil {
		w.Topic, w.Event, w.Field = a.Topic, a.Event, a.Field
		if a.Correlate != nil {
			w.Correlated, w.Correlation = true, a.Correlate(s)
		}
		if a.Timeout > 0 {
			w.Deadline = now.Add(a.Timeout)
		}
	}
	if sl := st.Sleep; sl != nil {
		if sl.Until != nil {
			// A time a history cannot record is left out, as if never
			// set: the step ends with the outcome error (SleepError), and
			// a Resume from the waiting event does the same.
			if t := sl.Until(s).Round(0); RecordableTime(t) == nil {
				w.Until = t
			}
		} else {
			w.Until = now.Add(sl.For)
		}
	}
	if st.Deadline > 0 {
		if dl := now.Add(st.Deadline); w.Deadline.IsZero() || dl.Before(w.Deadline) {
			w.Deadline = dl
		}
	}
	return w
}

// park registers the run's current wait and returns: from here the run
// holds no goroutine.
func (r *Run[S]) park() {
	p := &parking{wait: *r.progress.wait, armed: make(chan struct{})}
	d := &r.def.steps[r.cur.step]
	input := r.callInput(d) // before the state goes
	w := &p.wait
	var waitErr error // the wait cannot start: the step ends with the outcome error
	if d.Sleep != nil && w.Until.IsZero() {
		// Sleep.Until gave the zero time (never set, or a value that is
		// no time), or one a history cannot record, which NewWait left
		// out. Without a time the run would wait for its deadline only,
		// or forever; the step ends with the outcome error instead, after
		// a Resume too (the recorded Wait has no Until either, and the
		// state is the same). The error reads the state, so before
		// parkOn hibernates it: it would read the zero state.
		waitErr = d.SleepError(&r.state)
	}
	// A correlated await whose value is empty would take another run's
	// event (CorrelationError); so would a run resumed from a wait
	// recorded before this rule, whose Wait has the same empty value.
	if d.Await != nil && waitErr == nil {
		waitErr = d.CorrelationError(w)
	}
	r.parkOn(p)
	defer close(p.armed)

	if waitErr != nil {
		r.wake(p, wakeError, nil, waitErr)
		return
	}
	// The subscription before the timer: an event the Subscriber had
	// already received in time (before a restart over the deadline) is
	// handed over while Subscribe runs, before a timer already due can
	// fire and end the wait with the outcome timeout.
	if d.Await != nil {
		if r.env.opts.sub == nil { // Register refuses such flows; a Subscriber set to nil later is a bug
			r.wake(p, wakeError, nil, Permanent(fmt.Errorf("%w: await %s %s needs a Subscriber (WithSubscriber)", ErrNotConfigured, w.Topic, w.Event)))
		} else if cancel, err := r.subscribe(p); err != nil {
			r.wake(p, wakeError, nil, err)
		} else {
			p.cancelSub = sync.OnceFunc(cancel)
		}
	}
	at, timeout := w.Timer()
	kind := wakeTime
	if timeout {
		kind = wakeTimeout
	}
	// A wait that Subscribe already ended (an event kept for it) arms no
	// timer: an AutoClock would move its time to the deadline of a wait
	// that never waited.
	if !at.IsZero() && r.stillParked(p) {
		p.stopTimer = afterFuncAt(r.clock, at, r.timerFired(p, kind))
	}
	if d.Call != nil {
		r.attachCall(p, d, input)
	}
	switch {
	case r.suspending.Load(): // suspended while entering the wait
		r.wake(p, wakeSuspend, nil, nil)
	case r.ctx.Err() != nil: // aborted while entering the wait
		// The request first, as Abort does: a cancelled context's abort
		// is recorded (or its failure logged) before the run aborts.
		if r.cancelRecorded != nil && context.Cause(r.ctx) != ErrAborted {
			<-r.cancelRecorded
		}
		if p.abortChild != nil {
			_ = p.abortChild() // its end wakes the run, which then aborts
		} else {
			r.wake(p, wakeAbort, nil, nil)
		}
	case r.cancels:
		// No step runs whose context would end with Start's (or
		// Resume's): the wait watches it, and its end is an abort, as
		// Start says. Abort's own cancellation is not a second one.
		p.stopWatch = context.AfterFunc(r.ctx, func() {
			if context.Cause(r.ctx) == ErrAborted {
				return
			}
			// The context's end is the abort, recorded or not
			// (watchCancel records it): a call's child is aborted only
			// once the parent's request is, as Abort does it.
			if r.cancelRecorded != nil {
				<-r.cancelRecorded
			}
			_ = r.abort()
		})
	}
}

// timerFired is what p's timer does when it fires: wake the run for the
// reason kind. At an await's deadline it first cancels the subscription,
// which lets an event the Subscriber received in time, and is handing over
// (a store's claim in flight), be delivered: it then wins, and the timeout
// finds the wait gone (Subscriber). p.cancelSub is set before the timer
// is armed.
func (r *Run[S]) timerFired(p *parking, kind wakeKind) func() {
	cancel := p.cancelSub
	return func() {
		if kind == wakeTimeout && cancel != nil {
			cancel()
		}
		r.wake(p, kind, nil, nil)
	}
}

// subscribe registers p's wait with the flow's Subscriber: a delivery
// that matches it wakes the run. One whose payload is not JSON is refused
// (it stays the Subscriber's), correlated or not: the event that wakes
// the run records the payload, and a history must stay JSON (a JSON flow
// would also put it in its state, which then could not be recorded). So
// is one received at or after the wait's deadline (Wait.InTime), which
// the run's timer ends, even when it has not fired yet. A delivery that
// does not say when it was received is received as the run hears of it,
// on the flow's clock: after a restart over the deadline it is refused
// too, so that the deadline holds whatever the restarts. A Subscribe that
// panics fails as one that returns an error (a *PanicError), as a step's
// action does: it runs on the run's goroutine, where a panic would take
// the whole process down.
func (r *Run[S]) subscribe(p *parking) (cancel func(), err error) {
	defer func() {
		if v := recover(); v != nil {
			cancel, err = nil, &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return r.env.opts.sub.Subscribe(r.quiet, p.wait, func(msg Delivery) bool {
		received := msg.Received
		if received.IsZero() {
			received = r.clock.Now()
		}
		if !p.wait.Matches(msg.Payload) || !p.wait.InTime(received) {
			return false
		}
		if PayloadNotJSON(msg.Payload) {
			if l := r.env.opts.logger; l != nil {
				w := &p.wait
				l.Warn("flow wait refused an event whose payload is not JSON", "flow", r.def.id, "run_id", r.env.runID, "step", w.Step, "topic", w.Topic, "event", w.Event)
			}
			return false
		}
		return r.wake(p, wakeEvent, &msg, nil)
	})
}

// parkOn makes p the run's wait and lets go of what the run holds while
// it waits (parked, from here): the caller then arms p and closes p.armed.
func (r *Run[S]) parkOn(p *parking) {
	if fn := r.env.opts.parked; fn != nil {
		fn(r.env.runID, true)
	}
	// A waiting run holds no machine either; the wake-up takes one.
	r.def.machines.Put(r.machine)
	r.machine = nil
	r.hibernate()
	r.mu.Lock()
	r.parked = p
	r.mu.Unlock()
}

// stillParked reports whether p is still the run's wait: nothing woke it.
func (r *Run[S]) stillParked(p *parking) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parked == p
}

// wake ends wait p for the reason kind, if p is still the run's wait, and
// continues the run on a new goroutine; msg is what woke it, the event
// delivered (wakeEvent) or the child's final state (wakeChild), else nil. It never blocks: subscribers call it while
// delivering.
func (r *Run[S]) wake(p *parking, kind wakeKind, msg *Delivery, err error) bool {
	r.mu.Lock()
	if r.parked != p {
		r.mu.Unlock()
		return false
	}
	r.parked = nil
	r.mu.Unlock()
	go r.woken(p, kind, msg, err)
	return true
}

// woken records how the wait ended and drives the run on.
func (r *Run[S]) woken(p *parking, kind wakeKind, msg *Delivery, err error) {
	<-p.armed
	r.toldLeaving = false // this goroutine works: it tells again when it leaves
	if fn := r.env.opts.parked; fn != nil {
		fn(r.env.runID, false)
	}
	if p.stopTimer != nil {
		p.stopTimer()
	}
	if p.stopWatch != nil {
		p.stopWatch()
	}
	if p.cancelSub != nil {
		p.cancelSub()
	}
	if err := r.thaw(); err != nil {
		r.finish(err)
		return
	}
	if kind == wakeSuspend {
		r.finishSuspended()
		return
	}
	r.machine = r.def.machine(r.cur.name)
	r.unstarted = p.unstarted
	if p.rollback {
		r.rollbackWoken(p, kind, msg, err)
		return
	}
	if r.ctx.Err() != nil && kind != wakeChild && kind != wakeEvent {
		// A child that ended done is a completed call even when the run
		// is aborted: the step takes its result, and is rolled back. And
		// an event the run accepted is the run's (the Subscriber's
		// contract): it is recorded, and the abort stops the run at the
		// next step. A deadline or an error that comes with the abort
		// gives way to it.
		kind = wakeAbort
	}
	w := &p.wait
	var ferr error
	switch kind {
	case wakeEvent, wakeTime, wakeChild:
		r.next = msg.wakeEvent()
		ferr = r.fireNext(evWake)
	case wakeTimeout:
		ferr = r.fire(OutcomeTimeout, 0, OutcomeTimeout, w.TimeoutError())
	case wakeAbort:
		ferr = r.fire(evAbort, 0, "", ErrAborted)
	case wakeError:
		ferr = r.fire(OutcomeError, 0, OutcomeError, err)
	}
	if ferr != nil {
		r.finish(ferr)
		return
	}
	r.loop()
}

// wakeEvent is what the event that ends a wait records of msg, the event
// delivered (nil: none).
func (msg *Delivery) wakeEvent() nextEvent {
	if msg == nil {
		return nextEvent{}
	}
	return nextEvent{payload: msg.Payload, link: msg.Link}
}

// hibernate lets go of what the run's history holds (its state, snapshot
// and progress) while it waits, when its sink can load histories back: a
// waiting run then costs its identity, its wait and its timer, not its
// data. thaw reloads them when the wait ends. It keeps the errors of an
// unwind that waits (a rollback call's child, a gated rollback's event):
// the history holds only their text, and Result.Err wraps the errors
// themselves (errors.As finds a step's own error type, errors.Is
// ErrTimeout or ErrHistoryLimit), whether or not the run waited.
func (r *Run[S]) hibernate() {
	if r.env.opts.loader == nil {
		return
	}
	var zero S
	r.state, r.snapped, r.snap = zero, zero, nil
	r.progress = progress{cause: r.progress.cause, rollbackErrs: r.progress.rollbackErrs}
	r.firstCtxs = nil
	r.hibernated = true
}

// thaw rebuilds a hibernated run from its history, which must still leave
// it where it waited.
func (r *Run[S]) thaw() error {
	if !r.hibernated {
		return nil
	}
	h, err := r.env.opts.loader.LoadHistory(r.quiet, r.env.runID)
	if err != nil {
		return fmt.Errorf("runtime: flow %q: reloading waiting run %q: %w", r.def.id, r.env.runID, err)
	}
	rb, err := r.def.rebuild(h)
	if err != nil {
		return fmt.Errorf("runtime: flow %q: reloading waiting run %q: %w", r.def.id, r.env.runID, err)
	}
	if rb.cur != r.cur {
		return fmt.Errorf("runtime: flow %q: waiting run %q: its history moved on to %s", r.def.id, r.env.runID, rb.cur.name)
	}
	if err := json.Unmarshal(rb.snap, &r.state); err != nil {
		return &HistoryError{Seq: rb.progress.seq, Msg: "state snapshot does not decode: " + err.Error()}
	}
	// The history gives back the errors' text; the run kept the errors
	// (hibernate), the same ones, as nothing is recorded while it waits.
	if r.progress.cause != nil && rb.progress.cause != nil {
		rb.progress.cause = r.progress.cause
	}
	if len(r.progress.rollbackErrs) == len(rb.progress.rollbackErrs) {
		rb.progress.rollbackErrs = r.progress.rollbackErrs
	}
	r.progress, r.hibernated, r.clean = rb.progress, false, false
	return nil
}
