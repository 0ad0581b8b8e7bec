package runtime

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event records one transition of a run's state machine. A run's events,
// in Seq order, are its history: Replay rebuilds the run's status from them
// and Flow.Resume continues the run from them. The JSON form (field tags
// below) and the From/To vocabulary are the durable format; see the package
// doc.
type Event struct {
	RunID string    `json:"run_id"`
	Seq   uint64    `json:"seq"` // 1 for the first event of a run, then +1
	Time  time.Time `json:"time"`
	Flow  string    `json:"flow"`
	// Step is the step the transition concerns: the step of From when From
	// is a step phase ("X:running", "X:rollback"), else the step of To, else "".
	Step string `json:"step,omitempty"`
	// Branch is set on the events of a branch of a parallel block (the
	// branch's step ID, as Step): From and To are states of the branch's
	// own machine, which forks from the block's state ("P:parallel") and
	// joins back to it; the run's machine stays in the block meanwhile.
	Branch string `json:"branch,omitempty"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Attempt is the attempt of From's phase that ended (0 when From is not a
	// step phase or when no attempt ended, e.g. an abort during a backoff).
	Attempt int `json:"attempt,omitempty"`
	// Outcome is how that attempt ended: "ok" or a named outcome (the step
	// completed), "error", "timeout", or "retry" (it failed and the same
	// phase runs again).
	Outcome Outcome `json:"outcome,omitempty"`
	// Error is the attempt's error; "" when it succeeded. For an abort that
	// interrupted no attempt it is the abort error.
	Error string `json:"error,omitempty"`
	// State is the JSON snapshot of the run's state after the transition's
	// cause (the step's changes included). Sinks must not modify it.
	State json.RawMessage `json:"state,omitempty"`
	// Wait is set on the event that enters a waiting state ("X:waiting"):
	// what the run waits for and until when, fixed on entry; and on the
	// event that starts an attempt of a rollback call ("X:rollback", from
	// the unwind or a retry): Wait.Child, the attempt's child run; or of a
	// rollback gated by Step.RollbackAwait: the event it waits for first.
	Wait *Wait `json:"wait,omitempty"`
	// Payload is the delivered event's payload, on the event that wakes a
	// waiting run ("X:waiting" -> "X:running"): the step's Exec reads it
	// (EventPayload), and Resume gives it back to a step woken before a
	// crash. A gated rollback's attempt records its awaited event's payload
	// the same way ("X:rollback" to itself, no outcome).
	Payload json.RawMessage `json:"payload,omitempty"`
	// Link is set, with Payload, on the event that wakes an await on a
	// delivered event that carried trace context (Delivery.Link): the W3C
	// traceparent of the span that sent it, so that the run's history, and
	// an observer's wait span, tie the wake-up to its sender's trace.
	Link string `json:"link,omitempty"`
	// Trace is set on the first event a run records in each life of it
	// in a process (its start, each Resume) when the flow has an Observer
	// that traces: the W3C traceparent of that life's run span, so that
	// the next life's span links to it (WithObserver, package observe).
	Trace string `json:"trace,omitempty"`
	// Parent is set on the first event of a child run (a call's): the
	// run that started it.
	Parent *RunRef `json:"parent,omitempty"`
	// Child is set on the event that ends a call's wait (the child ended)
	// and on each event that ends an attempt of a rollback call: the child
	// run. The event entering a call's wait names it in Wait.Child.
	Child *RunRef `json:"child,omitempty"`
}

// Wait describes what a waiting run waits for. The runtime records it in
// the history (Event.Wait, without the identifying fields, which the event
// has) and hands it to the Subscriber of an await.
type Wait struct {
	Flow  string `json:"-"`
	RunID string `json:"-"`
	Step  string `json:"-"`
	// Key is the waiting step's idempotency key ("<run>/<step>[#visit]"):
	// the same after Resume, so a durable subscriber can tie an event it
	// hands out to this wait.
	Key string `json:"-"`
	// Topic and Event name the awaited event; both empty for a sleep.
	Topic string `json:"topic,omitempty"`
	Event string `json:"event,omitempty"`
	// With Correlated, only a payload whose member at Field ("" means
	// CorrelationField) equals Correlation is taken (Matches).
	Correlated  bool   `json:"correlated,omitempty"`
	Field       string `json:"field,omitempty"`
	Correlation string `json:"correlation,omitempty"`
	// Child is the child run a call waits for (its ID is ChildRunID of
	// the waiting step's key).
	Child *RunRef `json:"child,omitempty"`
	// Until is when a sleep wakes up (the step then runs).
	Until time.Time `json:"until,omitzero"`
	// Deadline is when the wait times out (outcome "timeout"): the earlier
	// of the await's timeout and the step's Deadline, both counted from
	// when the step was entered. Zero: never.
	Deadline time.Time `json:"deadline,omitzero"`
}

// TimeoutError is the error of a wait whose Deadline passed: for an await,
// that its event did not come by then.
func (w *Wait) TimeoutError() error {
	by := w.Deadline.Format(time.RFC3339Nano)
	if w.Topic != "" {
		return fmt.Errorf("%w: no %s %s by %s", ErrTimeout, w.Topic, w.Event, by)
	}
	return fmt.Errorf("%w: step deadline %s passed while sleeping", ErrTimeout, by)
}

// Timer is when the wait's one timer fires (zero: never) and whether it
// is the deadline (outcome "timeout") rather than a sleep's wake-up time:
// a wake-up time no later than the deadline wakes the step.
func (w *Wait) Timer() (at time.Time, timeout bool) {
	if !w.Until.IsZero() && (w.Deadline.IsZero() || !w.Until.After(w.Deadline)) {
		return w.Until, false
	}
	return w.Deadline, !w.Deadline.IsZero()
}

// RunCorrelation is the value e makes its run's correlation, what an
// operator looks the run up by (an order ID): that of the correlated wait e
// enters (ok), which stays the run's until a later one replaces it. The
// stores' run lists (store.RunInfo.Correlation) and the Temporal workflows'
// memo both keep it by this rule.
func (e *Event) RunCorrelation() (value string, ok bool) {
	if e.Wait == nil || !e.Wait.Correlated {
		return "", false
	}
	return e.Wait.Correlation, true
}

// Matches reports whether payload is what w waits for.
func (w *Wait) Matches(payload []byte) bool {
	return !w.Correlated || Correlates(payload, w.Field, w.Correlation)
}

// RunState is the coarse state of a run, as Status and Result report it.
type RunState string

// Run states. The last five are terminal.
const (
	StatePending            RunState = "pending"
	StateRunning            RunState = "running"
	StateWaiting            RunState = "waiting"
	StateRollingBack        RunState = "rolling_back"
	StateDone               RunState = "done"
	StateFailed             RunState = "failed"
	StateCompensated        RunState = "compensated"
	StateAborted            RunState = "aborted"
	StateCompensationFailed RunState = "compensation_failed"
)

// RunStates lists every run state, those of runs in progress first.
var RunStates = []RunState{
	StatePending, StateRunning, StateWaiting, StateRollingBack,
	StateDone, StateFailed, StateCompensated, StateAborted, StateCompensationFailed,
}

// Terminal reports whether the run is over.
func (s RunState) Terminal() bool {
	switch s {
	case StateDone, StateFailed, StateCompensated, StateAborted, StateCompensationFailed:
		return true
	}
	return false
}

// Machine states (Event.From and Event.To). Besides these fixed states and
// the terminal states (the RunState names done, failed, compensated,
// aborted, compensation_failed) every step X has the phase states
// RunningState(X) = "X:running", if it waits (an await or a sleep)
// WaitingState(X) = "X:waiting", and if it has a rollback
// RollbackState(X) = "X:rollback"; a parallel block P has
// ParallelState(P) = "P:parallel".
const (
	MachinePending  = "pending"  // created; no step started
	MachineFailing  = "failing"  // a step failed: undo completed steps
	MachineAborting = "aborting" // aborted: undo completed steps

	PhaseRunning  = "running"
	PhaseWaiting  = "waiting"
	PhaseRollback = "rollback"
	PhaseParallel = "parallel" // a parallel block's branches run
)

// RunningState is the machine state of step running.
func RunningState(step string) string { return step + ":" + PhaseRunning }

// WaitingState is the machine state of step waiting for its event or time.
func WaitingState(step string) string { return step + ":" + PhaseWaiting }

// RollbackState is the machine state of step's rollback running.
func RollbackState(step string) string { return step + ":" + PhaseRollback }

// ParseMachineState splits a machine state into its step and phase
// (PhaseRunning, PhaseWaiting, PhaseRollback or PhaseParallel). For a fixed or terminal state step is ""
// and phase is the state itself. ok is false for anything else.
func ParseMachineState(s string) (step, phase string, ok bool) {
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		switch s[i+1:] {
		case PhaseRunning, PhaseWaiting, PhaseRollback, PhaseParallel:
			return s[:i], s[i+1:], true
		}
		return "", "", false
	}
	switch s {
	case MachinePending, MachineFailing, MachineAborting,
		string(StateDone), string(StateFailed), string(StateCompensated),
		string(StateAborted), string(StateCompensationFailed):
		return "", s, true
	}
	return "", "", false
}

// Status is what is known about a run: its state, current step and attempt,
// error, history and latest state snapshot.
type Status struct {
	RunID   string   `json:"run_id"`
	Flow    string   `json:"flow"`
	State   RunState `json:"state"`
	Machine string   `json:"machine"` // the machine state, e.g. "CreateCustomer:running"
	// Step is the step running or rolling back; for a run that failed or was
	// aborted, the step that caused it; otherwise the last step.
	Step     string          `json:"step,omitempty"`
	Attempt  int             `json:"attempt,omitempty"`
	Err      string          `json:"error,omitempty"`
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
	// started, in order.
	Children []RunRef `json:"children,omitempty"`
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
	// Attempt is the attempt running, or the last one once it ended.
	Attempt int     `json:"attempt,omitempty"`
	Outcome Outcome `json:"outcome,omitempty"` // how it ended; "" while it runs
	Err     string  `json:"error,omitempty"`
}

// tracker folds events into a Status. The live run and Replay both use it,
// so a run's status is by construction what its history says.
type tracker struct {
	machine   string
	kind      stateKind
	steps     RunStep
	attempt   int
	cause     string
	lastErr   string
	rollbacks []string
	snap      json.RawMessage
	wait      *Wait
	branches  []Branch
	parent    *RunRef
	children  []RunRef
}

// link folds the run links of e: the parent of a child run, the children
// of its calls (each once, in the order first named).
func (t *tracker) link(e *Event) {
	if e.Parent != nil {
		t.parent = e.Parent
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
		b.Attempt, b.Err = e.Attempt+1, e.Error
	case to == kindRunning:
		b.Attempt, b.Outcome, b.Err = 1, "", ""
	default:
		b.Attempt, b.Outcome, b.Err = e.Attempt, e.Outcome, e.Error
	}
}

// Woke reports whether e ends a wait: the awaited event came, a sleep's
// time, or a call's child ended (X:waiting -> X:running, no outcome), or
// what a gated rollback attempt waits for came (gateOpened). Such an event
// has no outcome of its own; the UI and `flowgen history` say "woken".
func (e *Event) Woke() bool {
	if e.Outcome != "" {
		return false
	}
	_, from, _ := ParseMachineState(e.From)
	_, to, _ := ParseMachineState(e.To)
	return from == PhaseWaiting && to == PhaseRunning || to == PhaseRollback && e.From == e.To
}

// Parks is what the run waits for once e is recorded, nil when it does
// not wait: the Wait of an event that enters a waiting state ("X:waiting")
// or starts a rollback attempt that waits ("X:rollback": a rollback call's
// child, a gated rollback's event, such as a Go rollback's provider). The
// run's next event (of its machine, not of a branch) ends that wait: Woke
// when what it waited for came, else its deadline, an error or an abort.
// Status.Wait, RunInfo.Wait and package observe's wait spans follow it.
func (e *Event) Parks() *Wait {
	if e.Wait == nil { // most events: no parsing
		return nil
	}
	switch _, phase, _ := ParseMachineState(e.To); phase {
	case PhaseWaiting, PhaseRollback:
		return e.Wait
	}
	return nil
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
	switch {
	case gateOpened(e, to):
		// The same attempt goes on.
	case self:
		t.attempt = e.Attempt + 1
		t.lastErr = e.Error
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
			}
		}
	case kindAborting:
		if t.cause == "" {
			t.cause = ErrAborted.Error()
		}
	}
	t.machine = e.To
	t.kind = to
	if to == kindParallel && from != kindParallel {
		t.branches = nil // a block entered: its branches start
	}
	t.wait = e.Parks()
	t.steps.apply(e, to, toStep)
	if len(e.State) > 0 {
		t.snap = e.State
	}
}

func (t *tracker) status() Status {
	st := Status{Machine: t.machine, Step: t.steps.Step, Attempt: t.attempt, Snapshot: t.snap, Wait: t.wait, Branches: slices.Clone(t.branches),
		Parent: t.parent, Children: slices.Clone(t.children)}
	st.State = t.kind.runState(t.machine)
	switch {
	case t.cause != "":
		st.Err = t.cause
		for _, r := range t.rollbacks {
			st.Err += "\n" + r
		}
	case len(t.rollbacks) > 0:
		st.Err = strings.Join(t.rollbacks, "\n")
	default:
		st.Err = t.lastErr
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
	if len(history) == 0 {
		return Status{}, &HistoryError{Msg: "empty history"}
	}
	var t tracker
	var lanes branchLinks
	first := &history[0]
	prevTo := MachinePending
	prevKind := kindPending
	for i := range history {
		e := &history[i]
		kind, step, ok := kindOf(e.To)
		if !ok {
			return Status{}, &HistoryError{Seq: e.Seq, Msg: "unknown state " + strconv.Quote(e.To)}
		}
		if e.Branch != "" {
			// Its From is its branch's state (lanes.link), not the run's.
			if err := checkLink(e, first, uint64(i+1), e.From, prevKind); err != nil {
				return Status{}, err
			}
			if err := lanes.link(e, prevTo, prevKind, kind); err != nil {
				return Status{}, err
			}
			t.applyBranch(e, kind)
			continue
		}
		if err := checkLink(e, first, uint64(i+1), prevTo, prevKind); err != nil {
			return Status{}, err
		}
		if err := lanes.leave(e, prevKind, kind); err != nil {
			return Status{}, err
		}
		if e.From == e.To && e.Outcome != OutcomeRetry && kind == kindRollback && (!gateOpened(e, kind) || e.Error != "") {
			return Status{}, &HistoryError{Seq: e.Seq, Step: step, Msg: "rollback re-entered without a retry"}
		}
		t.apply(e, prevKind, kind, step)
		prevTo, prevKind = e.To, kind
	}
	st := t.status()
	st.RunID, st.Flow, st.History = first.RunID, first.Flow, history
	return st, nil
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
