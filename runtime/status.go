package runtime

// A run's status, folded from its events: by the live run as it records
// them and by Replay from a history alone, with one tracker, so that a
// run's status is by construction what its history says.

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status is what is known about a run: its state, current step and attempt,
// error, history and latest state snapshot.
type Status struct {
	RunID   string   `json:"run_id"`
	Flow    string   `json:"flow"`
	State   RunState `json:"state"`
	Machine string   `json:"machine"` // the machine state, e.g. "CreateCustomer:running"
	// Step is the step running or rolling back; for a run that failed or was
	// aborted, the step that caused it; otherwise the last step.
	Step    string `json:"step,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	Err     string `json:"error,omitempty"`
	// Retrying says that Err is the error of the step's last attempt,
	// which its retry policy tries again (Attempt is the attempt after
	// it; or the same attempt, back at its gate: GateClosed): the run has
	// not failed. Without it, Err is the run's own
	// error: the cause of its failure or abort and any failed rollbacks,
	// Result.Err's text (RunEndOf), except that for a step's outcome
	// routed to fail, the cause names the last step failure before it
	// too ("; the last step failure before it: step Charge: ...").
	Retrying bool `json:"retrying,omitempty"`
	// RetryAt is, after the run's last event retried an attempt of its
	// step or of a rollback (a rollback's retry leaves Retrying false:
	// Err is the run's cause then), when the next attempt may start, its
	// backoff over (Event.RetryAt). Zero when that attempt follows at
	// once, and once any later event is recorded. No event records that
	// the attempt started, so a time passed says it runs, or, for a run
	// not live (its service stopped), runs as soon as it resumes.
	RetryAt  time.Time       `json:"retry_at,omitzero"`
	History  []Event         `json:"history,omitempty"`
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
	// Wait is what a waiting run waits for, and until when; for a run
	// rolling back through a rollback call, the child the attempt waits
	// for; for a gated rollback, its event until it comes (Event.Parks of
	// the last event).
	Wait *Wait `json:"wait,omitempty"`
	// Branches are the branches of the last parallel block the run
	// entered, in the order they started.
	Branches []Branch `json:"branches,omitempty"`
	// Parent is the run whose call started this one, if any.
	Parent *RunRef `json:"parent,omitempty"`
	// Children are the child runs the run's calls and rollback calls
	// started, in order (a call's child from when its wait starts, unless
	// it then could not be started: ErrChildNotStarted).
	Children []RunRef `json:"children,omitempty"`
}

// EndedOutside makes s, a run's status replayed from a history that
// records no end, the status of a run that its executor ended outside its
// history (a Temporal workflow terminated or timed out from outside
// flowgen), in terminal state end, for why: its state and machine state
// are end (as a list of runs says them), it waits for nothing and retries
// nothing, and its error is why. Its step, attempt, branches and links
// stay as its history left them.
func (s *Status) EndedOutside(end RunState, why string) {
	s.State, s.Machine = end, string(end)
	s.Wait, s.Retrying, s.RetryAt, s.Err = nil, false, time.Time{}, why
}

// RunStep is the step a run's status names (Status.Step), folded from the
// events of the run's machine: the step running, waiting, in a parallel
// block or rolling back; for a run that failed or was aborted, once the
// unwind is over, the step that caused it; otherwise the last step. The
// status of a run and the stores' run listings (store.RunInfo.Step) both
// fold it, so that a listed run names the step its status does.
type RunStep struct {
	Step  string
	cause string // the step whose failure or abort started the unwind
}

// Apply folds e, an event of the run's machine (a branch's events, Branch
// set, leave the run's step as it is: the run stays in the block).
func (s *RunStep) Apply(e *Event) {
	if e.Branch != "" {
		return
	}
	if to, step, ok := kindOf(e.To); ok {
		s.apply(e, to, step)
	}
}

// apply folds e, which enters a state of kind to concerning toStep.
func (s *RunStep) apply(e *Event, to stateKind, toStep string) {
	if (to == kindFailing || to == kindAborting) && s.cause == "" {
		s.cause = e.Step
	}
	switch {
	case to == kindRunning || to == kindWaiting || to == kindRollback || to == kindParallel:
		s.Step = toStep
	case s.cause != "":
		s.Step = s.cause
	default:
		s.Step = e.Step
	}
}

// Branch is the status of a branch of a parallel block.
type Branch struct {
	Step string `json:"step"`
	// Machine is the branch's machine state: "X:running" while it runs,
	// the block's state ("P:parallel") once it ended.
	Machine string `json:"machine"`
	// Attempt is the attempt running, or the last one made once it ended
	// (0: none ran; a branch cancelled in a backoff made the one before,
	// though its ending event's Attempt is 0: no attempt ended then).
	Attempt int     `json:"attempt,omitempty"`
	Outcome Outcome `json:"outcome,omitempty"` // how it ended; "" while it runs
	Err     string  `json:"error,omitempty"`
	// RetryAt is, for a branch that failed an attempt and tries again
	// (Err set, no Outcome yet), when its next attempt may start, as
	// Status.RetryAt is for the run's step.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Cancelled: the branch ended because another branch of its block
	// failed (Event.Cancelled), not by a failure of its own.
	Cancelled bool `json:"cancelled,omitempty"`
	// Interrupted: the run's abort cut the branch short
	// (Event.InterruptedBranch), not a failure of its own.
	Interrupted bool `json:"interrupted,omitempty"`
}

// tracker folds events into a Status. The live run and Replay both use it,
// so a run's status is by construction what its history says.
type tracker struct {
	machine string
	kind    stateKind
	steps   RunStep
	attempt int
	cause   string
	lastErr string
	retryAt time.Time // the next attempt's, after a retry (Status.RetryAt)
	// failed is the last step failure that a route took elsewhere than
	// fail ("step Charge: card declined"); before, that failure once a
	// later step's outcome routed the run to fail (Status.Err says it
	// after the cause; Result.Err, and so a RunEnd, does not carry it).
	failed    string
	before    string
	rollbacks []string
	snap      json.RawMessage
	wait      *Wait
	branches  []Branch
	parent    *RunRef
	children  []RunRef
}

// link folds the run links of e: the parent of a child run, the children
// of its calls (each once, in the order first named). A call's child is
// named as its wait (or its rollback attempt) starts, before the run starts
// it; the event that ends that wait names it again unless it could not be
// started (ErrChildNotStarted), and then it is no child: a status lists
// no run that never existed.
func (t *tracker) link(e *Event) {
	if e.Parent != nil {
		t.parent = e.Parent
	}
	if c := waitChild(t.wait); c != nil && (e.Child == nil || *e.Child != *c) {
		t.children = slices.DeleteFunc(t.children, func(r RunRef) bool { return r == *c })
	}
	for _, c := range []*RunRef{e.Child, waitChild(e.Wait)} {
		if c != nil && !slices.Contains(t.children, *c) {
			t.children = append(t.children, *c)
		}
	}
}

func waitChild(w *Wait) *RunRef {
	if w == nil {
		return nil
	}
	return w.Child
}

// applyBranch folds e, an event of a branch of the parallel block the run
// is in.
func (t *tracker) applyBranch(e *Event, to stateKind) {
	if len(e.State) > 0 {
		t.snap = e.State
	}
	i := slices.IndexFunc(t.branches, func(b Branch) bool { return b.Step == e.Branch })
	if i < 0 {
		t.branches = append(t.branches, Branch{Step: e.Branch})
		i = len(t.branches) - 1
	}
	b := &t.branches[i]
	b.Machine = e.To
	switch {
	case e.Outcome == OutcomeRetry:
		b.Attempt, b.Err, b.RetryAt = e.Attempt+1, e.Error, e.RetryAt
	case to == kindRunning:
		b.Attempt, b.Outcome, b.Err, b.RetryAt, b.Cancelled, b.Interrupted = 1, "", "", time.Time{}, false, false
	default:
		last := e.Attempt
		if last == 0 {
			// No attempt ended (cancelled or aborted before the attempt
			// b.Attempt ran, in its backoff): the last one made is the one
			// before, which a retry event recorded (0: none ran).
			last = max(b.Attempt-1, 0)
		}
		b.Attempt, b.Outcome, b.Err, b.RetryAt, b.Cancelled, b.Interrupted = last, e.Outcome, e.Error, time.Time{}, e.Cancelled(), e.InterruptedBranch()
	}
}

// gateOpened reports whether e, an event of the run's machine that enters
// a state of kind to, records that what a gated rollback attempt waits for
// came (Step.RollbackAwait): the rollback's state to itself with no
// outcome. The attempt runs next; its Wait is over.
func gateOpened(e *Event, to stateKind) bool {
	return to == kindRollback && e.Woke()
}

// apply folds e, which leaves a state of kind from for one of kind to
// (concerning toStep).
func (t *tracker) apply(e *Event, from, to stateKind, toStep string) {
	t.link(e)
	self := e.From == e.To && e.Outcome == OutcomeRetry
	t.retryAt = time.Time{}
	switch {
	case gateOpened(e, to):
		// The same attempt goes on.
	case e.BackAtGate():
		// The attempt went back to its gate (GateClosed): it runs when
		// the wait ends, and why it went back.
		t.attempt = e.Attempt
		t.lastErr = e.Error
	case self, e.Outcome == OutcomeRetry && to == kindWaiting:
		// A retry, or a retry that waits first (Await.EachAttempt): the
		// next attempt, and why the last one failed.
		t.attempt = e.Attempt + 1
		t.lastErr = e.Error
		t.retryAt = e.RetryAt
	case to == kindRunning && from == kindWaiting && t.attempt > 0:
		// The attempt a retry waited for runs.
	case to == kindRunning || to == kindRollback:
		t.attempt = 1
		t.lastErr = ""
	case to == kindWaiting || to == kindParallel:
		t.attempt = 0
		t.lastErr = ""
	default:
		t.attempt = e.Attempt
		t.lastErr = ""
	}
	if from == kindRollback && !self && e.Outcome == OutcomeError {
		t.rollbacks = append(t.rollbacks, "rollback "+e.Step+": "+e.Error)
	}
	switch to {
	case kindFailing:
		if t.cause == "" {
			if e.Error != "" {
				t.cause = "step " + e.Step + ": " + e.Error
			} else {
				t.cause = "step " + e.Step + ": " + RoutedToFail(e.Outcome).Error()
				t.before = t.failed
			}
		}
	case kindAborting:
		if t.cause == "" {
			t.cause = ErrAborted.Error()
		}
	case kindRunning, kindWaiting, kindParallel:
		if e.Error != "" && e.Outcome != OutcomeRetry && !e.BackAtGate() && (from == kindRunning || from == kindWaiting || from == kindParallel) {
			// A step failed and its outcome (error, timeout) routed on.
			t.failed = "step " + e.Step + ": " + e.Error
		}
	}
	t.machine = e.To
	t.kind = to
	if to == kindParallel {
		// A block entered, from a block too (`on error -> P2`): its
		// branches start. An event of the run's machine that ends in a
		// block's state always enters it (progress's visit count).
		t.branches = nil
	}
	t.wait = e.Parks()
	t.steps.apply(e, to, toStep)
	if len(e.State) > 0 {
		t.snap = e.State
	}
}

// runErr is the run's own error as Result.Err says it (its text): the
// cause of its failure or abort and any failed rollbacks, a line each; ""
// for none.
func (t *tracker) runErr() string {
	return joinLines(t.cause, t.rollbacks)
}

func joinLines(first string, rest []string) string {
	if first == "" {
		return strings.Join(rest, "\n")
	}
	return strings.Join(append([]string{first}, rest...), "\n")
}

func (t *tracker) status() Status {
	st := Status{Machine: t.machine, Step: t.steps.Step, Attempt: t.attempt, Snapshot: t.snap, Wait: t.wait, Branches: slices.Clone(t.branches),
		Parent: t.parent, Children: slices.Clone(t.children)}
	st.State = t.kind.runState(t.machine)
	st.RetryAt = t.retryAt
	switch {
	case t.before != "":
		// A step's outcome routed the run to fail, which the history
		// records without an error. An operator asks why the run took
		// that path, which a step failure routed elsewhere often started
		// (Charge's error routed to Reject, whose ok is fail): the last
		// such failure before it is said too.
		st.Err = joinLines(t.cause+"; the last step failure before it: "+t.before, t.rollbacks)
	case t.cause != "" || len(t.rollbacks) > 0:
		st.Err = t.runErr()
	default:
		st.Err = t.lastErr
		st.Retrying = t.lastErr != ""
	}
	return st
}

func (k stateKind) runState(machine string) RunState {
	switch k {
	case kindPending:
		return StatePending
	case kindRunning, kindParallel:
		return StateRunning
	case kindWaiting:
		return StateWaiting
	case kindFailing, kindAborting, kindRollback:
		return StateRollingBack
	}
	return RunState(machine)
}

// RunStateOf is the RunState of a run whose last event entered the machine
// state machine; ok is false for a name that is no machine state.
func RunStateOf(machine string) (RunState, bool) {
	kind, _, ok := kindOf(machine)
	if !ok {
		return "", false
	}
	return kind.runState(machine), true
}

// kindOf classifies a machine state without a definition (for Replay).
func kindOf(s string) (kind stateKind, step string, ok bool) {
	step, phase, ok := ParseMachineState(s)
	if !ok {
		return 0, "", false
	}
	switch phase {
	case PhaseRunning:
		return kindRunning, step, true
	case PhaseWaiting:
		return kindWaiting, step, true
	case PhaseRollback:
		return kindRollback, step, true
	case PhaseParallel:
		return kindParallel, step, true
	case MachinePending:
		return kindPending, "", true
	case MachineFailing:
		return kindFailing, "", true
	case MachineAborting:
		return kindAborting, "", true
	}
	return kindTerminal, "", true
}

// Replay rebuilds a run's status from its history alone, checking that the
// history is consistent: one run and flow, sequence numbers 1, 2, 3..., each
// event leaving the state the previous one entered, known machine states,
// nothing after a terminal state. It does not need the flow definition; to
// check a history against one, use Flow.CheckHistory.
func Replay(history []Event) (Status, error) {
	t, err := replay(history)
	if err != nil {
		return Status{}, err
	}
	st := t.status()
	st.RunID, st.Flow, st.History = history[0].RunID, history[0].Flow, history
	return st, nil
}

// RunEndOf is the end of the run whose history is history, checked as
// Replay checks it, for a run that has ended (Final is terminal; else
// it says where the run is): what a Run's OnEnd reports, Err's text
// Result.Err's. That is Status.Err but for the last step failure Status.Err
// names after the cause of a run routed to fail: a parent whose call
// step learns its child's end from the child's history, after a restart,
// records the error it records when the child ends live.
func RunEndOf(history []Event) (RunEnd, error) {
	t, err := replay(history)
	if err != nil {
		return RunEnd{}, err
	}
	st := t.status()
	end := RunEnd{RunID: history[0].RunID, Final: st.State, State: st.Snapshot}
	if st.State.Terminal() && st.State != StateDone {
		end.Err = errors.New(t.runErr())
	}
	return end, nil
}

// replay folds history into a tracker, checking it (Replay).
func replay(history []Event) (*tracker, error) {
	if len(history) == 0 {
		return nil, &HistoryError{Msg: "empty history"}
	}
	t := new(tracker)
	var lanes branchLinks
	first := &history[0]
	prevTo := MachinePending
	prevKind := kindPending
	for i := range history {
		e := &history[i]
		kind, step, ok := kindOf(e.To)
		if !ok {
			return nil, &HistoryError{Seq: e.Seq, Msg: "unknown state " + strconv.Quote(e.To)}
		}
		if e.Branch != "" {
			// Its From is its branch's state (lanes.link), not the run's.
			if err := checkLink(e, first, uint64(i+1), e.From, prevKind); err != nil {
				return nil, err
			}
			if err := lanes.link(e, prevTo, prevKind, kind); err != nil {
				return nil, err
			}
			t.applyBranch(e, kind)
			continue
		}
		if err := checkLink(e, first, uint64(i+1), prevTo, prevKind); err != nil {
			return nil, err
		}
		if err := lanes.leave(e, prevKind, kind); err != nil {
			return nil, err
		}
		if e.From == e.To && e.Outcome != OutcomeRetry && kind == kindRollback && !gateOpened(e, kind) && !e.BackAtGate() {
			return nil, &HistoryError{Seq: e.Seq, Step: step, Msg: "rollback re-entered without a retry"}
		}
		t.apply(e, prevKind, kind, step)
		prevTo, prevKind = e.To, kind
	}
	return t, nil
}

// branchLinks checks the branch events of a history, definition or not:
// each leaves the state its branch's previous event entered (the block's
// state for its first), while the run is in that block; the run leaves the
// block only when no branch runs.
type branchLinks struct {
	block string            // the block the run is in
	state map[string]string // per branch, the state its last event entered
}

func (l *branchLinks) link(e *Event, runState string, runKind, to stateKind) error {
	if runKind != kindParallel {
		return &HistoryError{Seq: e.Seq, Step: e.Branch, Msg: "branch event while the run is in " + strconv.Quote(runState) + ", not a parallel block"}
	}
	if l.block != runState {
		l.block, l.state = runState, make(map[string]string)
	}
	prev, ok := l.state[e.Branch]
	if !ok {
		prev = runState
	}
	switch {
	case e.Step != e.Branch:
		return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "branch event of " + strconv.Quote(e.Branch) + " names another step"}
	case e.From != prev:
		return &HistoryError{Seq: e.Seq, Step: e.Branch, Msg: "branch leaves " + strconv.Quote(e.From) + " but it is in " + strconv.Quote(prev)}
	case e.To != runState && to != kindRunning:
		return &HistoryError{Seq: e.Seq, Step: e.Branch, Msg: "branch enters " + strconv.Quote(e.To) + ": a branch runs or joins its block"}
	}
	l.state[e.Branch] = e.To
	return nil
}

// leave checks an event of the run's machine against the branches of the
// block it leaves.
func (l *branchLinks) leave(e *Event, from, to stateKind) error {
	if from != kindParallel {
		return nil
	}
	for b, st := range l.state {
		if st != e.From {
			return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "leaves the parallel block while branch " + strconv.Quote(b) + " runs"}
		}
	}
	l.block, l.state = "", nil
	return nil
}

// checkLink checks what any history must satisfy, definition or not.
func checkLink(e, first *Event, seq uint64, prevTo string, prevKind stateKind) error {
	switch {
	case e.RunID != first.RunID:
		return &HistoryError{Seq: e.Seq, Msg: "run ID " + strconv.Quote(e.RunID) + " in the history of " + strconv.Quote(first.RunID)}
	case e.Flow != first.Flow:
		return &HistoryError{Seq: e.Seq, Msg: "flow " + strconv.Quote(e.Flow) + " in a history of flow " + strconv.Quote(first.Flow)}
	case e.Seq != seq:
		return &HistoryError{Seq: e.Seq, Msg: "expected seq " + strconv.FormatUint(seq, 10)}
	case prevKind == kindTerminal:
		return &HistoryError{Seq: e.Seq, Msg: "event after terminal state " + strconv.Quote(prevTo)}
	case e.From != prevTo:
		return &HistoryError{Seq: e.Seq, Step: e.Step, Msg: "leaves " + strconv.Quote(e.From) + " but the run is in " + strconv.Quote(prevTo)}
	}
	return nil
}
