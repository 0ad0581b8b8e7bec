package runtime

import (
	"encoding/json"
	"fmt"
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
	// RetryAt is set on a retry (Outcome "retry", of a step, a branch or
	// a rollback) whose next attempt backs off: when that attempt may
	// start, the backoff drawn for it (its jitter included) added to the
	// time the retry was recorded. A run waits until then, live or
	// resumed: Resume after a crash or a shutdown during the backoff waits
	// out what is left of it rather than running the attempt at once, so
	// that runs retrying through an outage do not all retry at the restart.
	// Zero when the attempt follows at once (no backoff), and in histories
	// recorded before the field, whose Resume runs it at once.
	RetryAt time.Time `json:"retry_at,omitzero"`
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
	// run, unless it could not be started (ErrChildNotStarted). The event
	// entering a call's wait names it in Wait.Child.
	Child *RunRef `json:"child,omitempty"`
}

// String is the event as a person reads it in a test's log or an error:
// "run r1 event 4: FetchHistory:running -> Gather:parallel (branch
// FetchHistory, attempt 1, ok)". The state, payload, wait and links are
// left out: the JSON form has them (fmt's %v of the struct printed the
// state's JSON as a list of byte values).
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s event %d: %s -> %s", e.RunID, e.Seq, e.From, e.To)
	var parts []string
	if e.Branch != "" {
		parts = append(parts, "branch "+e.Branch)
	}
	if e.Attempt > 0 {
		parts = append(parts, fmt.Sprintf("attempt %d", e.Attempt))
	}
	if e.Outcome != "" {
		parts = append(parts, string(e.Outcome))
	}
	if e.Error != "" {
		parts = append(parts, fmt.Sprintf("error %q", e.Error))
	}
	if len(parts) > 0 {
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	return b.String()
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

// ProviderTopic and ProviderRollbackTopic are the topics of the waits of
// the engine's Go steps and Go rollbacks that remote providers serve: the
// wait's Event is the handler's name. They are no broker topics: the
// engine ends such a wait when a provider of the handler registers.
// Awaited and TimeoutError say so of them, as the web view does.
const (
	ProviderTopic         = "flowgen/provider"
	ProviderRollbackTopic = "flowgen/provider-rollback"
)

// ReservedTopic says why a flow, a trigger or a publication may not use
// topic, and is "" for any topic it may. ProviderTopic and
// ProviderRollbackTopic are the engine's: it serves every wait on them as
// a provider wait, so a flow's await there would end when a provider
// registers, not on its event, and an event published there would look
// like what a provider's registration does. The compiler's check
// (reserved-topic) and the engine's door for events refuse them so.
func ReservedTopic(topic string) string {
	switch topic {
	case ProviderTopic:
		return fmt.Sprintf("topic %q is reserved for the engine's waits for a remote provider of a Go step", topic)
	case ProviderRollbackTopic:
		return fmt.Sprintf("topic %q is reserved for the engine's waits for a remote provider of a Go rollback", topic)
	}
	return ""
}

// Awaited names what an await waits for, as people read it: event "E" on
// topic "T", and with its correlation when it has one (with
// correlation_id "C"); for the wait of a Go step or rollback served by
// remote providers, a provider of handler "H" (or of rollback handler
// "H"). An await's timeout error and flowgen history's line of a waiting
// run say it so.
func (w *Wait) Awaited() string {
	if p := w.providerOf(); p != "" {
		return "a " + p
	}
	s := fmt.Sprintf("event %q on topic %q", w.Event, w.Topic)
	if w.Correlated {
		s += fmt.Sprintf(" with %s %q", CorrelationPath(w.Field), w.Correlation)
	}
	return s
}

// providerOf names the handler a provider wait waits for (provider of
// handler "H"), and is "" for any other wait.
func (w *Wait) providerOf() string {
	switch w.Topic {
	case ProviderTopic:
		return fmt.Sprintf("provider of handler %q", w.Event)
	case ProviderRollbackTopic:
		return fmt.Sprintf("provider of rollback handler %q", w.Event)
	}
	return ""
}

// TimeoutError is the error of a wait whose Deadline passed: for an await,
// that its event (Awaited) did not come by then; for a provider wait, that
// no provider of its handler registered by then.
func (w *Wait) TimeoutError() error {
	by := w.Deadline.Format(time.RFC3339Nano)
	if p := w.providerOf(); p != "" {
		return fmt.Errorf("%w: no %s registered by %s", ErrTimeout, p, by)
	}
	if w.Topic != "" {
		return fmt.Errorf("%w: no %s by %s", ErrTimeout, w.Awaited(), by)
	}
	return fmt.Errorf("%w: step deadline %s passed while sleeping", ErrTimeout, by)
}

// Timer is when the wait's one timer fires (zero: never) and whether it
// is the deadline (outcome "timeout") rather than a sleep's wake-up time:
// a wake-up time before the deadline wakes the step; at the deadline
// itself the deadline wins, as flowgen check's sleep-deadline warning says
// of a deadline no longer than the sleep.
func (w *Wait) Timer() (at time.Time, timeout bool) {
	if !w.Until.IsZero() && (w.Deadline.IsZero() || w.Until.Before(w.Deadline)) {
		return w.Until, false
	}
	return w.Deadline, !w.Deadline.IsZero()
}

// InTime reports whether an event received at received (Delivery.Received)
// came in time for w: before its deadline, as a sleep's wake-up time must
// be (Timer: at the deadline itself, the deadline wins). A wait without a
// deadline is always in time. A delivery that does not say when it was
// received is received when its run hears of it: the run passes its
// clock's now for it (timerFired), so that a run resumed past its
// deadline refuses it.
func (w *Wait) InTime(received time.Time) bool {
	return w.Deadline.IsZero() || received.Before(w.Deadline)
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
	return w.match(payload) == matched
}

// Mismatch says why w does not take payload (Matches is false), for the
// log of a delivery dropped: the payload is not JSON (ErrPayloadNotJSON),
// is not an object with a member at the correlation path, or has another
// value there (another run's event). It is nil when w takes payload.
func (w *Wait) Mismatch(payload []byte) error {
	path := CorrelationPath(w.Field)
	switch w.match(payload) {
	case notJSON:
		return fmt.Errorf("%w (a correlated await reads its %s)", ErrPayloadNotJSON, path)
	case noMember:
		return fmt.Errorf("the payload is not a JSON object with a member %s, the await's correlation path", path)
	case otherValue:
		return fmt.Errorf("the payload's %s is another correlation value than the run's (another run's event)", path)
	}
	return nil
}

// matchKind is how a payload fits a wait: the one classification Matches
// and Mismatch read.
type matchKind uint8

const (
	matched matchKind = iota
	notJSON
	noMember
	otherValue
)

// match classifies payload for w. It pays for telling the failures apart
// only when the payload has no correlation value: a wait offered other
// runs' events (a bus hands each to every wait of its topic and event)
// costs what Correlates costs.
func (w *Wait) match(payload []byte) matchKind {
	if !w.Correlated {
		return matched
	}
	v, ok := Correlation(payload, w.Field)
	switch {
	case ok && v == w.Correlation:
		return matched
	case ok:
		return otherValue
	case !json.Valid(payload):
		return notJSON
	}
	return noMember
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

// TakesAbort reports whether an abort of a run in this state changes what
// the run does (Run.Abort): it is not over, and not rolling back, as a
// rollback finishes whatever happens (a run rolling back after an abort
// has taken it already). An abort accepted while the run is in such a
// state ends it aborted, or compensation_failed.
func (s RunState) TakesAbort() bool {
	return !s.Terminal() && s != StateRollingBack
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

// Woke reports whether e ends a wait: the awaited event came, a sleep's
// time, or a call's child ended (X:waiting -> X:running, no outcome), or
// what a gated rollback attempt waits for came (gateOpened). Such an event
// has no outcome of its own, nor an error; the UI and `flowgen history`
// say "woken".
func (e *Event) Woke() bool {
	if e.Outcome != "" || e.Error != "" {
		return false
	}
	_, from, _ := ParseMachineState(e.From)
	_, to, _ := ParseMachineState(e.To)
	return from == PhaseWaiting && to == PhaseRunning || to == PhaseRollback && e.From == e.To
}

// BackAtGate reports whether e takes an attempt back to its gate
// (GateClosed): no outcome, the error why, from a step's running phase to
// its waiting phase, or from a rollback's phase to itself. The same
// attempt runs when the wait it records ends: the attempt did not begin,
// and it failed nothing. The UI and `flowgen history` say "gate closed".
func (e *Event) BackAtGate() bool {
	if e.Outcome != "" || e.Error == "" || e.Branch != "" {
		return false
	}
	fs, from, _ := ParseMachineState(e.From)
	ts, to, _ := ParseMachineState(e.To)
	return fs != "" && fs == ts && (from == PhaseRunning && to == PhaseWaiting || from == PhaseRollback && to == PhaseRollback)
}

// Interrupted reports whether e is an abort that cut short the step it
// names (e.Step): e leaves that step's running phase (an attempt in
// flight, a backoff between attempts, or no attempt started yet) or a
// parallel block's for aborting, and the step did not complete (Error is
// set). A step whose attempt returned ok before the abort was taken
// records no Error: it completed, and is rolled back as such. An abort
// while the run waits (X:waiting -> aborting) or before its first step
// (pending -> aborting) interrupts no step.
func (e *Event) Interrupted() bool {
	if e.To != MachineAborting || e.Error == "" {
		return false
	}
	switch _, phase, _ := ParseMachineState(e.From); phase {
	case PhaseRunning, PhaseParallel:
		return true
	}
	return false
}

// Cancelled reports whether e ends a branch of a parallel block because
// another branch failed (the runtime cancels the others with
// ErrBranchCancelled, and records that error, alone or wrapping what the
// attempt in flight returned): the branch did not fail by itself, and
// the block's failure is the other branch's. Its outcome is the attempt's
// failure, error or timeout: an attempt that did not stop at the
// cancellation may end by a timeout (on Temporal, one that does not
// heartbeat runs on to its own).
func (e *Event) Cancelled() bool {
	return e.Branch != "" && (e.Outcome == OutcomeError || e.Outcome == OutcomeTimeout) && cancelledText(e.Error)
}

// InterruptedBranch reports whether e ends a branch of a parallel block
// that the run's abort cut short (the runtime records ErrAborted, alone
// when no attempt was in flight, or wrapping what the attempt returned):
// the branch did not fail by itself; the abort, which the block's next
// event records (Interrupted), ends the block.
func (e *Event) InterruptedBranch() bool { return e.Branch != "" && abortedText(e.Error) }

// abortedText reports whether an error's text marks a branch cut short
// by an abort: it starts with ErrAborted's, as abortedBranch writes it.
func abortedText(s string) bool { return strings.HasPrefix(s, ErrAborted.Error()) }

// cancelledText reports whether an error's text marks a branch cancelled:
// it starts with ErrBranchCancelled's, as cancelledBranch writes it.
func cancelledText(s string) bool { return strings.HasPrefix(s, ErrBranchCancelled.Error()) }

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
