package runtime

import (
	"fmt"
	"time"
)

// progress is what a run's history says about it besides its state
// snapshot: where its attempts stand, which steps it would undo, why it
// fails. A live run folds each event it records into it, and Resume folds
// the recorded history the same way (apply), so a resumed run continues
// exactly where the history leaves it.
type progress struct {
	seq          uint64
	attempt      int       // attempt of the current phase, 1-based
	retryAt      time.Time // when it may start, its backoff over (Event.RetryAt); zero: at once
	entered      time.Time // when the current step was entered (Step.Deadline counts from it)
	visits       []int32   // per step: how often the run entered it
	stack        []frame   // completed steps with a rollback, oldest first
	undoing      frame     // the frame whose rollback is running
	rolledBack   bool      // a rollback has started: the run cannot end "failed"
	cause        error     // why the run is failing
	rollbackErrs []error
	wait         *Wait  // what the run waits for, while it does
	payload      []byte // the event that woke the current step
	// woke is the wake-up time of the sleep that the current step's last
	// event woke from: the time its deadline is judged at (attempts).
	woke time.Time
	// gateOpen: what the current attempt of a gated rollback waited for
	// came (gateOpened), so the attempt runs rather than waits.
	gateOpen bool
	// lanes, per step (nil when the flow has no parallel blocks): the
	// branches of the block the run is in.
	lanes []lane
	// blockSnap is the state snapshot the run entered its parallel block
	// with: what the branches start from.
	blockSnap []byte
}

// newProgress is the progress of a run of d that has not started.
func (d *definition[S]) newProgress() progress {
	p := progress{visits: make([]int32, len(d.steps)), stack: make([]frame, 0, len(d.steps))}
	if d.parallel {
		p.lanes = make([]lane, len(d.steps))
	}
	return p
}

// frame is one completed execution of a step, to be undone.
type frame struct {
	step  int32
	visit int32
}

// apply folds e, a transition from one state to another, into p. err is the
// real error of a live run's failed attempt (nil when replaying: the event's
// text stands for it). It returns a *HistoryError for a transition the
// run's data cannot make (a rollback out of order, a wrong end state).
func (p *progress) apply(d definitionView, e *Event, from, to *mstate, err error) error {
	p.seq = e.Seq
	p.gateOpen = false
	p.retryAt = time.Time{}
	if gateOpened(e, to.kind) {
		if !d.rollbackGated(to.step) || e.Error != "" {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "rollback re-entered without a retry"}
		}
		p.gateOpen = true
		return nil
	}
	if e.BackAtGate() {
		// The attempt did not begin (GateClosed): the same one runs when
		// the gate's wait, which e records, ends; the visit goes on.
		if to.kind == kindWaiting && !d.rewaits(to.step) || to.kind == kindRollback && !d.rollbackGated(to.step) || e.Attempt < 1 {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "goes back to a gate the step does not have"}
		}
		if to.kind == kindWaiting {
			if e.Wait == nil {
				return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "enters a wait without saying what it waits for"}
			}
			p.payload = nil
			p.attempt = e.Attempt - 1 // the wait's end runs attempt e.Attempt
			p.wait = p.newWait(e, d, to)
		} else {
			p.attempt = e.Attempt
		}
		return nil
	}
	if from == to && e.Outcome == OutcomeRetry {
		if e.Error == "" {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "retry without an error"}
		}
		p.attempt = e.Attempt + 1
		p.retryAt = e.RetryAt
		return nil
	}
	if err == nil && e.Error != "" {
		// Read back from a history: the text, and ErrTimeout when the
		// outcome says the error was a timeout, as it was live.
		err = &recordedError{msg: e.Error, timeout: e.Outcome == OutcomeTimeout}
	}
	switch from.kind {
	case kindRunning:
		if e.Error == "" && d.hasRollback(from.step) { // the step completed
			p.stack = append(p.stack, frame{int32(from.step), p.visits[from.step]})
		}
		if to.kind == kindFailing {
			if err == nil {
				err = RoutedToFail(e.Outcome)
			}
			p.cause = &StepError{Step: e.Step, Attempt: e.Attempt, Outcome: e.Outcome, Err: err}
		}
	case kindWaiting:
		if to.kind == kindFailing {
			p.cause = &StepError{Step: e.Step, Outcome: e.Outcome, Err: err}
		}
	case kindParallel:
		if err := p.leaveBlock(d, e, from, to, err); err != nil {
			return err
		}
	case kindRollback:
		if want := p.unwinding(); to.name != want {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: fmt.Sprintf("rollback returns to %s, not %s", to.name, want)}
		}
		if e.Outcome == OutcomeError {
			p.rollbackErrs = append(p.rollbackErrs, &RollbackError{Step: e.Step, Err: err})
		}
	}
	slept := p.wait
	p.wait, p.payload, p.woke = nil, nil, time.Time{}
	switch to.kind {
	case kindRunning:
		if from.kind == kindWaiting {
			// The same visit goes on: its first attempt, or the one after
			// the attempt a retry waited after (rewaits).
			p.attempt++
			p.payload = e.Payload
			if slept != nil && !slept.Until.IsZero() { // a sleep wakes only at its time
				p.woke = slept.Until
			}
			break
		}
		p.attempt = 1
		p.visits[to.step]++
		p.entered = e.Time
	case kindWaiting:
		if e.Wait == nil {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "enters a wait without saying what it waits for"}
		}
		if rewait(e, from, to) {
			if e.Error == "" || !d.rewaits(to.step) {
				return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "waits again without a retry"}
			}
			p.attempt = e.Attempt // the next attempt runs after the wait
			p.retryAt = e.RetryAt // and the wait after the backoff
			p.wait = p.newWait(e, d, to)
			return nil
		}
		p.visits[to.step]++
		p.entered = e.Time
		p.attempt = 0
		p.wait = p.newWait(e, d, to)
	case kindRollback:
		n := len(p.stack)
		if n == 0 || int(p.stack[n-1].step) != to.step {
			return &HistoryError{Seq: e.Seq, Step: d.stepID(to.step), Msg: "rolls back a step that is not the last completed one"}
		}
		p.undoing = p.stack[n-1]
		p.stack = p.stack[:n-1]
		p.rolledBack = true
		p.attempt = 1
	case kindParallel:
		p.visits[to.step]++
		p.entered = e.Time
		p.attempt = 0
		p.blockSnap = e.State
		for _, b := range d.branchesOf(to.step) {
			p.lanes[b] = lane{state: to.name}
		}
	case kindTerminal:
		if from.kind == kindRunning || from.kind == kindParallel {
			break // done: a step's outcome routed there
		}
		if len(p.stack) > 0 {
			return &HistoryError{Seq: e.Seq, Msg: fmt.Sprintf("run ends %s with completed steps not rolled back", to.name)}
		}
		if want := p.terminal(from.kind); string(want) != to.name {
			return &HistoryError{Seq: e.Seq, Msg: fmt.Sprintf("run ends %s, but its history leads to %s", to.name, want)}
		}
	}
	return nil
}

// leaveBlock checks and folds e, which leaves the parallel block from: no
// branch may still run, and the block ends ok only when all completed.
func (p *progress) leaveBlock(d definitionView, e *Event, from, to *mstate, err error) error {
	completed := true
	for _, b := range d.branchesOf(from.step) {
		l := &p.lanes[b]
		if l.running {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: fmt.Sprintf("leaves the parallel block while branch %q runs", d.stepID(b))}
		}
		completed = completed && l.started && !l.failed
	}
	if e.Outcome == OutcomeOK && e.Error == "" && !completed {
		return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "the parallel block ends ok before every branch completed"}
	}
	if to.kind == kindFailing {
		if err == nil {
			err = RoutedToFail(e.Outcome)
		}
		p.cause = &StepError{Step: e.Step, Outcome: e.Outcome, Err: err}
	}
	p.blockSnap = nil
	return nil
}

// applyBranch folds e, an event of branch x of the parallel block the run
// is in, into p: its start, a retry, its end (a completed branch joins the
// rollback stack).
func (p *progress) applyBranch(d definitionView, x int, e *Event, from, to *mstate) error {
	p.seq = e.Seq
	l := &p.lanes[x]
	switch {
	case from == to && e.Outcome == OutcomeRetry:
		if e.Error == "" {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "retry without an error"}
		}
		l.attempt, l.retryAt = e.Attempt+1, e.RetryAt
	case to.kind == kindRunning:
		if l.started {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "branch started twice in one visit of its block"}
		}
		p.visits[x]++
		*l = lane{state: to.name, started: true, running: true, attempt: 1, entered: e.Time}
	default:
		l.state, l.running, l.attempt = to.name, false, e.Attempt
		l.failed = e.Error != ""
		if l.failed {
			l.end = laneEnd{seq: e.Seq, outcome: e.Outcome, err: e.Error, cancelled: e.Cancelled(), interrupted: e.InterruptedBranch()}
		}
		if !l.failed && d.hasRollback(x) {
			p.stack = append(p.stack, frame{int32(x), p.visits[x]})
		}
	}
	return nil
}

// unwinding is the state a rollback returns to: failing when a step failed,
// aborting when the run was aborted.
func (p *progress) unwinding() string {
	if p.cause != nil {
		return MachineFailing
	}
	return MachineAborting
}

// terminal is how an unwind of kind from ends once nothing is left to undo.
func (p *progress) terminal(from stateKind) RunState {
	switch {
	case len(p.rollbackErrs) > 0:
		return StateCompensationFailed
	case from == kindAborting:
		return StateAborted
	case p.rolledBack:
		return StateCompensated
	}
	return StateFailed
}

// rewait reports whether e, which leaves from for to, is the retry of a
// step whose every attempt waits (Await.EachAttempt): the same visit goes
// on. The outcome says so: the step's own outcome routed back to it (a
// loop) makes the same move and begins a new visit.
func rewait(e *Event, from, to *mstate) bool {
	return to.kind == kindWaiting && from.kind == kindRunning && from.step == to.step && e.Outcome == OutcomeRetry
}

// newWait is the wait e, which enters waiting state to, records, with the
// run's identity and the key of the visit.
func (p *progress) newWait(e *Event, d definitionView, to *mstate) *Wait {
	w := *e.Wait
	w.Flow, w.RunID, w.Step = e.Flow, e.RunID, d.stepID(to.step)
	w.Key = Key{RunID: e.RunID, Step: w.Step, Visit: int(p.visits[to.step])}.String()
	return &w
}

// parked is the wait e, the last event p applied, parks the run in
// (Event.Parks), with the run's identity and the idempotency key of the
// visit, or of the rollback, that waits: what the run's observer is told
// (RunInfo.Wait, RunObserver.Recorded), as an await's Subscriber is. nil
// when e parks nothing.
func (p *progress) parked(e *Event) *Wait {
	w := e.Parks()
	if w == nil {
		return nil
	}
	step, phase, _ := ParseMachineState(e.To)
	if phase == PhaseWaiting && p.wait != nil {
		return p.wait // newWait identified it
	}
	id := *w
	id.Flow, id.RunID, id.Step = e.Flow, e.RunID, step
	id.Key = Key{RunID: e.RunID, Step: step, Visit: int(p.undoing.visit), Rollback: true}.String()
	return &id
}

// definitionView is what apply needs of a flow definition, whatever its
// state type.
type definitionView interface {
	hasRollback(step int) bool
	rollbackGated(step int) bool
	rewaits(step int) bool
	stepID(step int) string
	branchesOf(block int) []int
}

func (d *definition[S]) branchesOf(block int) []int { return d.steps[block].branches }

func (d *definition[S]) hasRollback(step int) bool { return d.steps[step].hasRollback }

func (d *definition[S]) rollbackGated(step int) bool { return d.steps[step].RollbackAwait != nil }

// rewaits reports whether step's retries wait again (Await.EachAttempt).
func (d *definition[S]) rewaits(step int) bool {
	a := d.steps[step].Await
	return a != nil && a.EachAttempt
}

// stepID is the ID of step i, or "" for -1.
func (d *definition[S]) stepID(i int) string {
	if i < 0 {
		return ""
	}
	return d.steps[i].ID
}

// stepIDOf is the step of a machine state, or "".
func (d *definition[S]) stepIDOf(s *mstate) string { return d.stepID(s.step) }
