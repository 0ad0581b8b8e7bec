package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/looplab/fsm"

	"github.com/flowgen/flowgen/internal/jsonenc"
)

// fire moves the run's machine by event ev: the machine decides where the
// event leads (the flow's routing is its table) and refuses a move the flow
// does not have. The move is then recorded (record) before anything else
// happens; a sink that refuses the event undoes the move and stops the run,
// so the machine never gets ahead of the history. err is the attempt's
// error, if it failed.
func (r *Run[S]) fire(ev string, attempt int, out Outcome, err error) error {
	r.next = attemptEnded(attempt, out, err)
	return r.fireNext(ev)
}

// fireRetry records the retry of the current phase's failed attempt
// (err): another attempt follows, which may start at at (zero: at once).
func (r *Run[S]) fireRetry(attempt int, err error, at time.Time) error {
	r.next = attemptEnded(attempt, OutcomeRetry, err)
	r.next.retryAt = at
	return r.fireNext(OutcomeRetry)
}

// attemptEnded is what the next event records of an attempt that ended
// (0: none did) with outcome out and error err.
func attemptEnded(attempt int, out Outcome, err error) nextEvent {
	n := nextEvent{attempt: attempt, outcome: out, err: err}
	if err != nil {
		n.errText = err.Error()
	}
	return n
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
	to := r.def.states[r.machine.Current()]
	if to.kind == kindFailing && from.kind != kindRollback || to.kind == kindTerminal {
		// The run enters its rollback after a failure, or ends, unless
		// an abort came first: then it takes the abort, which was
		// accepted.
		r.machine.SetState(from.name)
		abortable := r.machine.Can(evAbort)
		if !r.enter(to, abortable) {
			return r.fireNext(evAbort)
		}
		r.machine.SetState(to.name)
	}
	if err := r.record(from, to); err != nil {
		r.machine.SetState(from.name) // the move did not happen: nothing recorded it
		return err
	}
	return nil
}

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
		// An attempt or a branch's writes that leave such a state fail
		// (encodes); what else changes the state (a Correlate that should
		// only read it) stops the run here, with no event to say so: the
		// log does.
		if l := r.env.opts.logger; l != nil {
			l.Error("flow state does not encode as JSON; run stopped", "flow", r.def.id, "run_id", r.env.runID, "from", from.name, "to", to.name, "error", err)
		}
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
		RetryAt: n.retryAt,
		State:   snap,
		Payload: n.payload,
		Link:    n.link,
	}
	if branch != nil {
		ev.Step, ev.Branch = branch.ID, branch.ID
	}
	r.links(&ev, from, to)
	switch {
	case rewait(&ev, from, to) || to.kind == kindWaiting && ev.BackAtGate():
		// A retry that waits again (Await.EachAttempt), or an attempt
		// back at its gate (GateClosed): its deadline is the first
		// wait's, counted from when the step was entered.
		ev.Wait = r.newWait(&r.def.steps[to.step], p.entered)
	case to.kind == kindWaiting && from != to:
		ev.Wait = r.newWait(&r.def.steps[to.step], ev.Time)
	case to.kind == kindRollback && !gateOpened(&ev, to.kind):
		ev.Wait = r.rollbackWait(&r.def.steps[to.step], from, n.attempt, ev.Time)
	}
	if r.obs != nil && !r.traced {
		ev.Trace = r.obs.Trace()
	}
	if branch == nil && (to.kind == kindTerminal || ev.Parks() != nil) {
		// The run ends, or parks, after this event: before the sink has
		// it, where anyone may read it, the run's place among an
		// engine's runs in flight is free (a branch ends or waits in
		// none of its events: the block's goroutine goes on).
		r.tellLeaving()
	}
	if err := r.emit(&ev); err != nil {
		if ev.Seq == 1 && errors.Is(err, ErrDuplicateRun) {
			// The sink has a run of this ID: the caller's duplicate, not
			// a failing sink. No run stopped (the existing one is
			// untouched), and Start returns this to whoever chose the ID.
			return fmt.Errorf("runtime: flow %q: starting run %q: %w", r.def.id, r.env.runID, err)
		}
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
		if w := p.parked(&seen); w != nil {
			seen.Wait = w
		}
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

// EncodeState is the JSON of a run's state s (a pointer to it) as its
// history records it (Event.State): encoding/json's, except that <, > and
// & are kept as they are, not written as six-byte escapes (a state is
// data for programs, never HTML, and one holding markup would grow
// sixfold past the bounds that hold it: a record, a provider's call).
// The Temporal target records with it too, so that a flow's histories
// are the same bytes on both. A state given as a value is encoded through
// a pointer to a copy of it (Addressed), as the run's own state is.
func EncodeState(s any) (json.RawMessage, error) { return jsonenc.Marshal(Addressed(s)) }

// Addressed is v through a pointer to a copy of it, unless v is nil or a
// pointer already (jsonenc.Addressed, its one home, says why). A state is
// encoded through a pointer (EncodeState), and handed so to an encoder of
// its own (the Temporal SDK's). A call's Input returns the child's state
// as a value.
func Addressed(v any) any { return jsonenc.Addressed(v) }

// snapshot encodes the state. Events share the previous snapshot while no
// action ran, the state is == to the one encoded (a value state), or it
// encodes the same.
func (r *Run[S]) snapshot() (json.RawMessage, error) {
	if r.snap != nil && (r.clean || r.def.valueState && any(r.state) == any(r.snapped)) {
		r.clean = true
		return r.snap, nil
	}
	b, err := EncodeState(&r.state)
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
