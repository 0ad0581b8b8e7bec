package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Errors returned by the runtime wrap one of these, so
// callers test them with errors.Is.
var (
	// ErrAborted is the error of a run that was aborted (Abort, or the
	// context given to Start was cancelled).
	ErrAborted = errors.New("runtime: run aborted")
	// ErrTimeout marks an attempt that ran out of its per-attempt timeout, or
	// an await that ran out of its timeout. A step whose last attempt timed
	// out ends with the outcome "timeout".
	ErrTimeout = errors.New("runtime: timeout")
	// ErrRoutedToFail is the error of a run whose step chose an outcome
	// leading to Fail (for example `on ok -> fail`).
	ErrRoutedToFail = errors.New("runtime: routed to fail")
	// ErrUnknownOutcome is returned by a step that names an outcome its
	// Next table does not route.
	ErrUnknownOutcome = errors.New("runtime: unknown outcome")
	// ErrBranchCancelled is the cancellation cause of a parallel block's
	// branches when another branch failed, and the error of a branch that
	// was running when it did (after a Resume too).
	ErrBranchCancelled = errors.New("runtime: branch cancelled: another branch failed")
	// ErrBackAtGate wraps the error an Observer is given (RunObserver.Action)
	// of an attempt that went back to its gate (GateClosed, recorded as
	// Event.BackAtGate): it did not begin and failed nothing; the run
	// waits for the gate again.
	ErrBackAtGate = errors.New("runtime: attempt back at its gate")
	// ErrSink wraps the error of a Sink that refused an event; the run stops
	// where its history stops (see Run semantics in the package doc).
	ErrSink = errors.New("runtime: sink")
	// ErrHistory marks a history that does not fit the flow definition or is
	// not internally consistent.
	ErrHistory = errors.New("runtime: history")
	// ErrFinished is returned when aborting or resuming a run that is over.
	ErrFinished = errors.New("runtime: run finished")
	// ErrRollingBack is returned by Run.AbortUnlessRollingBack of a run
	// rolling back after a failure: its rollback finishes whatever
	// happens, so the abort would change nothing, and nothing of it is
	// recorded.
	ErrRollingBack = errors.New("runtime: run rolling back after a failure")
	// ErrSuspended is the result error of a run stopped by Suspend: it has
	// not ended, and Resume continues it from its history.
	ErrSuspended = errors.New("runtime: run suspended")
	// ErrUnknownRun is returned for a run ID the flow does not know.
	ErrUnknownRun = errors.New("runtime: unknown run")
	// ErrDuplicateRun is returned when starting a run whose ID is already
	// live, or that its sink already has, or is writing (a store, a
	// MemorySink).
	ErrDuplicateRun = errors.New("runtime: run already exists")
	// ErrDefinition marks an invalid flow definition (Register, or the first
	// Start when targets are resolved).
	ErrDefinition = errors.New("runtime: invalid flow definition")
	// ErrNotConfigured marks something a flow needs and was not given:
	// Register refuses steps that need a Caller, Publisher or Subscriber
	// the flow lacks; ResumeAll and Runs without a RunLister, History with a
	// sink that loads no histories, a MemoryCaller without the handler
	// called, and a generated constructor's nil port or handlers
	// (MissingPort, MissingHandlers, OptionAsHandlers) wrap it too.
	ErrNotConfigured = errors.New("runtime: not configured")
	// ErrChildNotStarted is wrapped by the error of a ChildRuns'
	// AttachChild that started no run of the child's ID and found none (the
	// child flow is unknown, or its initial state is not the flow's): the
	// call's step fails with it, and the parent's history does not name the
	// child as one of its runs (Event.Child), so that Status.Children lists
	// only runs that exist.
	ErrChildNotStarted = errors.New("runtime: child run not started")
	// ErrBadRunID is the error of a run ID that WithRunID cannot give a
	// run (CheckRunID).
	ErrBadRunID = errors.New("runtime: invalid run ID")
	// ErrNoFlowName is returned by RunLister.RunIDs given no flow name.
	ErrNoFlowName = errors.New("runtime: no flow name")
	// ErrPayloadNotJSON is why a correlated wait does not take an event
	// whose payload is not JSON (Wait.Mismatch): the event is dropped, or
	// left to the subscriber, as for another run's event. A run of this
	// runtime takes no such payload at an uncorrelated wait either (its
	// history records the payload, as JSON).
	ErrPayloadNotJSON = errors.New("runtime: the event payload is not JSON")
	// ErrNoCorrelation is why a correlated await ends with the outcome
	// error instead of waiting: the run's correlation value is empty
	// (Step.CorrelationError).
	ErrNoCorrelation = errors.New("runtime: the correlation value is not set")
)

// PayloadNotJSON reports whether a wait refuses payload, whatever its
// correlation, for not being JSON (ErrPayloadNotJSON): the event that
// wakes a run records its payload, and a history must stay JSON. An event
// with no payload is taken. The Temporal target asks the same.
func PayloadNotJSON(payload []byte) bool { return len(payload) > 0 && !json.Valid(payload) }

// StateNotJSON is the error an attempt of a step or a rollback fails
// with when it succeeded but left a state that does not encode as JSON
// (err, json.Marshal's): permanent, since another attempt would leave it
// again. Every event records the state as JSON, so no event could record
// that attempt's end. The Temporal target's activities fail the same.
func StateNotJSON(err error) error {
	return Permanent(fmt.Errorf("the state the attempt left does not encode as JSON: %w", err))
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the step fails at once with the
// outcome "error" (or "timeout" if err wraps ErrTimeout). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	_, ok := errors.AsType[*permanentError](err)
	return ok
}

type gateClosedError struct{ err error }

func (e *gateClosedError) Error() string { return e.err.Error() }
func (e *gateClosedError) Unwrap() error { return e.err }

// GateClosed marks err as that of an attempt that did not begin because
// what its gate waits for is not there (any more): an attempt of a step
// whose every attempt waits (Await.EachAttempt), or of a rollback gated by
// RollbackAwait, whose gate stands for a condition rather than a message
// (the engine's: a live provider of the handler), and which found the
// condition gone, for example when it runs again after Resume. The run
// goes back to the gate's wait, recorded (X:running -> X:waiting, or
// R:rollback to itself, with no outcome and err), spending no attempt: the
// same attempt runs, under the same idempotency key, when the wait ends.
// For any other attempt (a branch of a parallel block, a step or rollback
// without such a gate) it is the error it wraps. GateClosed(nil) is nil.
func GateClosed(err error) error {
	if err == nil {
		return nil
	}
	return &gateClosedError{err}
}

// IsGateClosed reports whether err, or an error it wraps, was marked
// GateClosed. Every attempt asks, so it must not allocate: errors.As's
// target would escape, errors.AsType's does not.
func IsGateClosed(err error) bool {
	_, ok := errors.AsType[*gateClosedError](err)
	return ok
}

// backAtGate reports whether err, returned by an attempt of d's action
// (of its rollback, if rollback), takes the attempt back to its gate: it
// is marked GateClosed, and the attempt has a gate, the step's wait before
// each attempt (Await.EachAttempt) or the rollback's (RollbackAwait). A
// branch of a parallel block has none (its caller knows it is one).
func (d *stepDef[S]) backAtGate(rollback bool, err error) bool {
	if !IsGateClosed(err) {
		return false
	}
	if rollback {
		return d.RollbackAwait != nil
	}
	return d.Await != nil && d.Await.EachAttempt
}

// PanicError is the error of a step, rollback or publication that panicked.
// Its message carries the stack, so the event that records it does too.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack)
}

// StepError is the cause of a failed, compensated or compensation_failed run:
// the step that failed, its last attempt and outcome, and the step's error.
type StepError struct {
	Step    string
	Attempt int
	Outcome Outcome
	Err     error
}

func (e *StepError) Error() string { return "step " + e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// RollbackError names a step whose rollback kept failing. A run with one ends
// compensation_failed; Result.Err joins the cause and every RollbackError.
type RollbackError struct {
	Step string
	Err  error
}

func (e *RollbackError) Error() string { return "rollback " + e.Step + ": " + e.Err.Error() }
func (e *RollbackError) Unwrap() error { return e.Err }

// HistoryError says where a history stops fitting: the event's sequence
// number (0 when there is no event: an empty history) and, when a step is
// to blame, the step.
type HistoryError struct {
	Seq  uint64
	Step string
	Msg  string
}

func (e *HistoryError) Error() string {
	at := "runtime: history"
	if e.Seq > 0 { // events count from 1: 0 is no event (an empty history)
		at = fmt.Sprintf("runtime: history event seq %d", e.Seq)
	}
	if e.Step != "" {
		return fmt.Sprintf("%s: step %q: %s", at, e.Step, e.Msg)
	}
	return fmt.Sprintf("%s: %s", at, e.Msg)
}
func (e *HistoryError) Unwrap() error { return ErrHistory }

// RoutedToFail is the error of a run whose step's outcome the flow routes
// to fail. The event that records it carries no error (the outcome says
// it); Replay and Result derive it, and so do other executors.
func RoutedToFail(outcome Outcome) error {
	return fmt.Errorf("%w by outcome %q", ErrRoutedToFail, outcome)
}

// AttemptTimeout is the error of an attempt (of a step or a rollback) that
// ran past its timeout d.
func AttemptTimeout(d time.Duration) error { return fmt.Errorf("%w after %v", ErrTimeout, d) }

// RollbackCallTimeout is the error of an attempt of a rollback call whose
// child run had not ended when the rollback's timeout d passed (the child
// is asked to abort). Executors of a flow's rollbacks elsewhere (the
// Temporal target) return it too, so the history says the same there.
func RollbackCallTimeout(d time.Duration) error {
	return fmt.Errorf("%w: rollback attempt deadline %v passed", ErrTimeout, d)
}

// SleepError is the error of st, a sleep until a time of the run's state
// s, whose Wait has no wake-up time (NewWait): the time is one a history
// cannot record (wrapping ErrTimeRange), a value that is no time
// (Sleep.Invalid's error, wrapped), or the zero time (never set), each
// named with the state field (Sleep.Field) if known. The step ends
// with the outcome "error"; other executors (the Temporal target) end it
// with this too.
func (st *Step[S]) SleepError(s *S) error {
	var field string
	if sl := st.Sleep; sl != nil && sl.Field != "" {
		field = " (field " + sl.Field + ")"
	}
	if sl := st.Sleep; sl != nil && sl.Until != nil {
		if t := sl.Until(s); RecordableTime(t) != nil {
			return Permanent(fmt.Errorf("runtime: step %q sleeps until %s%s: %w", st.ID, t.Format(time.RFC3339Nano), field, ErrTimeRange))
		}
		if sl.Invalid != nil {
			if err := sl.Invalid(s); err != nil {
				return Permanent(fmt.Errorf("runtime: step %q sleeps until a time that is not valid%s: %w", st.ID, field, err))
			}
		}
	}
	return Permanent(fmt.Errorf("runtime: step %q sleeps until the zero time%s: the time to wake at is not set", st.ID, field))
}

// CorrelationError is the error of st, an await that correlates, whose
// wait w (NewWait, or the one a history recorded) has an empty correlation
// value: the state field Correlate reads was never set. Such a wait would
// take any event whose member is empty, or absent from a JSON flow's
// state, whichever run it was meant for, and couple unrelated runs that
// wait so; the step ends with the outcome "error" at once instead, routed
// by Next (permanent: another attempt reads the same value). The error
// names the step, the payload path and the state field (Await.CorrelateField)
// if known, and wraps ErrNoCorrelation. nil for a wait that may wait: an
// await without correlation, or with a value. Other executors (the
// engine's JSON flows through this runtime, the Temporal target) end the
// step with it too.
func (st *Step[S]) CorrelationError(w *Wait) error {
	if st.Await == nil || w == nil || !w.Correlated || w.Correlation != "" {
		return nil
	}
	value := "an empty value"
	if f := st.Await.CorrelateField; f != "" {
		value = "field " + f + ", which is empty"
	}
	return Permanent(fmt.Errorf("runtime: step %q awaits %s %s correlated on %s with %s: %w",
		st.ID, w.Topic, w.Event, CorrelationPath(w.Field), value, ErrNoCorrelation))
}

// NoTimeForRetry is the error of a step whose attempt failed with err and
// whose deadline d, counted from when the step was entered, passes before
// attempt next could start after its backoff.
func NoTimeForRetry(d time.Duration, next int, err error) error {
	return fmt.Errorf("%w: step deadline %v leaves no time for attempt %d: %w", ErrTimeout, d, next, err)
}

// DeadlinePassed is the error of a step whose deadline d, counted from when
// the step was entered, passed: it cut an attempt short, or came before
// another attempt could start.
func DeadlinePassed(d time.Duration) error {
	return fmt.Errorf("%w: step deadline %v passed", ErrTimeout, d)
}
