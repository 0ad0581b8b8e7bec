package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/looplab/fsm"
)

// rebuilt is a run's loop state recovered from its history.
type rebuilt struct {
	pos          int
	attempt      int
	phaseStart   time.Time
	seq          uint64
	stack        []frame
	visits       []int32
	undoing      frame
	rolledBack   bool
	cause        error
	rollbackErrs []error
	track        tracker
	snap         json.RawMessage
}

// CheckHistory reports whether history fits this flow definition: it must be
// consistent (see Replay) and every transition must be one this definition's
// state machine allows, between states of steps it has, in an order the
// runtime could have produced (a rollback undoes the last completed step).
// The error names the offending event's seq and, when it can, the step.
func (f *Flow[S]) CheckHistory(history []Event) error {
	def, err := f.definition()
	if err != nil {
		return err
	}
	_, err = def.rebuild(history)
	return err
}

// Resume continues a run that is not over from its history (from a durable
// store, after a crash): the state is restored from the last snapshot, steps
// that completed never run again, the step that was running runs again with
// the same idempotency key and attempt count (without the backoff it may have
// been sleeping), and a rollback in progress continues. The run keeps its ID
// and its events continue the history's sequence. It fails with an error
// wrapping ErrHistory if the history does not fit the flow, and ErrFinished
// if the run is over. The state type must survive a JSON round trip.
func (f *Flow[S]) Resume(ctx context.Context, history []Event, opts ...RunOption) (*Run[S], error) {
	def, err := f.definition()
	if err != nil {
		return nil, err
	}
	rb, err := def.rebuild(history)
	if err != nil {
		return nil, err
	}
	if rb.track.kind == kindTerminal {
		return nil, fmt.Errorf("%w: run %q ended %s", ErrFinished, history[0].RunID, rb.track.machine)
	}
	var state S
	if err := json.Unmarshal(rb.snap, &state); err != nil {
		return nil, &HistoryError{Seq: rb.seq, Msg: "state snapshot does not decode: " + err.Error()}
	}
	r, err := f.newRun(ctx, state, history[0].RunID, opts)
	if err != nil {
		return nil, err
	}
	r.pos, r.attempt, r.seq, r.phaseStart = rb.pos, rb.attempt, rb.seq, rb.phaseStart
	r.lastTime = history[len(history)-1].Time
	r.stack, r.visits, r.undoing, r.rolledBack = rb.stack, rb.visits, rb.undoing, rb.rolledBack
	r.cause, r.rollbackErrs = rb.cause, rb.rollbackErrs
	r.machine.SetState(def.states[rb.pos].name)
	r.mu.Lock()
	r.track = rb.track
	r.mu.Unlock()
	go r.loop()
	return r, nil
}

// rebuild replays history through the definition's state machine and
// recovers what the run's loop needs to continue.
func (d *definition[S]) rebuild(history []Event) (*rebuilt, error) {
	if len(history) == 0 {
		return nil, &HistoryError{Msg: "empty history"}
	}
	m := d.machines.Get().(*fsm.FSM)
	defer d.machines.Put(m)
	m.SetState(MachinePending)
	rb := &rebuilt{pos: posPending, visits: make([]int32, len(d.steps))}
	first := &history[0]
	if first.Flow != d.id {
		return nil, &HistoryError{Seq: first.Seq, Msg: fmt.Sprintf("history of flow %q, not %q", first.Flow, d.id)}
	}
	for i := range history {
		e := &history[i]
		from := &d.states[rb.pos]
		if err := checkLink(e, first, uint64(i+1), from.name, from.kind); err != nil {
			return nil, err
		}
		to, err := d.lookup(e.To, e.Seq)
		if err != nil {
			return nil, err
		}
		dst := &d.states[to]
		if err := m.Event(context.Background(), dst.name); err != nil {
			var same fsm.NoTransitionError
			if !errors.As(err, &same) {
				return nil, &HistoryError{Seq: e.Seq, Step: e.Step, Msg: fmt.Sprintf("flow %q has no transition %s -> %s", d.id, from.name, dst.name)}
			}
		}
		if want := d.eventStep(rb.pos, to); e.Step != want {
			return nil, &HistoryError{Seq: e.Seq, Step: e.Step, Msg: fmt.Sprintf("event of %s -> %s should name step %q", from.name, dst.name, want)}
		}
		if err := applyEvent(rb, d, e, from, to); err != nil {
			return nil, err
		}
		rb.track.apply(e, from.kind, dst.kind, d.stepID(dst.step))
		rb.pos, rb.seq = to, e.Seq
		if len(e.State) > 0 {
			rb.snap = e.State
		}
	}
	if rb.snap == nil {
		return nil, &HistoryError{Seq: rb.seq, Msg: "no state snapshot in the history"}
	}
	return rb, nil
}

// apply mirrors, for one event, what the run's loop did when it emitted it.
func applyEvent[S any](rb *rebuilt, d *definition[S], e *Event, from *mstate, to int) error {
	dst := &d.states[to]
	retry := from == dst && e.Outcome == OutcomeRetry
	if retry {
		if e.Error == "" {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "retry without an error"}
		}
		rb.attempt = e.Attempt + 1
		return nil
	}
	switch from.kind {
	case kindRunning:
		sd := &d.steps[from.step]
		if e.Error == "" && sd.hasRollback { // the step completed
			rb.stack = append(rb.stack, frame{int32(from.step), rb.visits[from.step]})
		}
		if dst.kind == kindFailing {
			var err error
			if e.Error != "" {
				err = errors.New(e.Error)
			} else {
				err = routedToFail(e.Outcome)
			}
			rb.cause = &StepError{Step: sd.ID, Attempt: e.Attempt, Outcome: e.Outcome, Err: err}
		}
	case kindRollback:
		if wantBack := d.states[rb.reasonPos()].name; e.To != wantBack {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: fmt.Sprintf("rollback returns to %s, not %s", e.To, wantBack)}
		}
		if e.Outcome == OutcomeError {
			rb.rollbackErrs = append(rb.rollbackErrs, &RollbackError{Step: d.steps[from.step].ID, Err: errors.New(e.Error)})
		}
	}
	switch dst.kind {
	case kindRunning:
		rb.visits[dst.step]++
		rb.attempt = 1
		rb.phaseStart = e.Time
	case kindRollback:
		n := len(rb.stack)
		if n == 0 || int(rb.stack[n-1].step) != dst.step {
			return &HistoryError{Seq: e.Seq, Step: d.steps[dst.step].ID, Msg: "rolls back a step that is not the last completed one"}
		}
		rb.undoing = rb.stack[n-1]
		rb.stack = rb.stack[:n-1]
		rb.rolledBack = true
		rb.attempt = 1
	case kindTerminal:
		if want := rb.terminal(from.kind); want < 0 {
			return &HistoryError{Seq: e.Seq, Msg: fmt.Sprintf("run ends %s with completed steps not rolled back", dst.name)}
		} else if to != want {
			return &HistoryError{Seq: e.Seq, Msg: fmt.Sprintf("run ends %s, but its history leads to %s", dst.name, d.states[want].name)}
		}
	}
	return nil
}

// reasonPos is where rollbacks return: failing if a step failed, else aborting.
func (rb *rebuilt) reasonPos() int {
	if rb.cause != nil {
		return posFailing
	}
	return posAborting
}

// terminal is the state a run leaving from (done's source, failing or
// aborting) must end in, as the loop decides it.
func (rb *rebuilt) terminal(from stateKind) int {
	switch {
	case from == kindRunning:
		return posDone
	case len(rb.stack) > 0:
		return -1 // must roll back first
	case len(rb.rollbackErrs) > 0:
		return posCompensationFailed
	case from == kindAborting:
		return posAborted
	case rb.rolledBack:
		return posCompensated
	}
	return posFailed
}
