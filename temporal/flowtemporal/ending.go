package flowtemporal

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"

	"github.com/flowgen/flowgen/runtime"
)

// ending is how a run that did not end done ended: the details of the
// workflow's error, from which Run.Wait rebuilds the runtime's Result.
//
// The state is its JSON, so that the details have one type whatever the
// flow's state type: a parent reads its child's ending without knowing it.
type ending struct {
	State     json.RawMessage  `json:"state"`
	Final     runtime.RunState `json:"final"`
	Cause     *stepFailure     `json:"cause,omitempty"`
	Aborted   bool             `json:"aborted,omitempty"`
	Rollbacks []stepFailure    `json:"rollbacks,omitempty"`
}

// stepFailure is a *runtime.StepError or *runtime.RollbackError on the wire.
type stepFailure struct {
	Step    string          `json:"step"`
	Attempt int             `json:"attempt,omitempty"`
	Outcome runtime.Outcome `json:"outcome,omitempty"`
	Err     string          `json:"error"`
	Timeout bool            `json:"timeout,omitempty"`
	// Wraps names the runtime's errors Err wrapped (wrapped), which the
	// error Run.Wait rebuilds wraps again.
	Wraps []string `json:"wraps,omitempty"`
}

// failureOf is the stepFailure of err, step's (or its rollback's) at
// attempt with outcome out.
func failureOf(step string, attempt int, out runtime.Outcome, err error) stepFailure {
	return stepFailure{Step: step, Attempt: attempt, Outcome: out, Err: err.Error(), Timeout: errors.Is(err, runtime.ErrTimeout), Wraps: wrapsOf(err)}
}

// wrapsOf returns the names (wrapped) of the runtime's errors that err
// wraps, for a remoteError or a stepFailure to wrap them again.
func wrapsOf(err error) []string {
	var names []string
	for _, w := range wrapped {
		if errors.Is(err, w.err) {
			names = append(names, w.name)
		}
	}
	return names
}

// wrapped are the runtime's errors that a run's failure may wrap, by the
// name a stepFailure records them under: the error Run.Wait rebuilds from
// its text wraps them again, so that errors.Is answers as for the
// runtime's Result (the history bound's runtime.ErrHistoryLimit, for one).
// runtime.ErrTimeout is not among them: stepFailure.Timeout, older than
// Wraps, says it. A slice, not a map: workflow code ranges over it.
var wrapped = []struct {
	name string
	err  error
}{
	{"history-limit", runtime.ErrHistoryLimit},
	{"routed-to-fail", runtime.ErrRoutedToFail},
	{"unknown-outcome", runtime.ErrUnknownOutcome},
	{"branch-cancelled", runtime.ErrBranchCancelled},
	{"child-not-started", runtime.ErrChildNotStarted},
	{"aborted", runtime.ErrAborted},
	{"payload-not-json", runtime.ErrPayloadNotJSON},
	// An abort's refusals (UpdateAbort).
	{"rolling-back", runtime.ErrRollingBack},
	{"finished", runtime.ErrFinished},
}

// remoteError is an error that crossed Temporal as text; it still wraps
// runtime.ErrTimeout when the original did, and the runtime's errors it
// names (wrapped).
type remoteError struct {
	msg     string
	timeout bool
	wraps   []string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() []error {
	var errs []error
	if e.timeout {
		errs = append(errs, runtime.ErrTimeout)
	}
	for _, w := range wrapped {
		if slices.Contains(e.wraps, w.name) {
			errs = append(errs, w.err)
		}
	}
	return errs
}

func (f *stepFailure) err() error {
	return &remoteError{msg: f.Err, timeout: f.Timeout, wraps: f.Wraps}
}

// err is the runtime Result.Err of e.
func (e *ending) err() error {
	var errs []error
	switch {
	case e.Cause != nil:
		errs = append(errs, &runtime.StepError{Step: e.Cause.Step, Attempt: e.Cause.Attempt, Outcome: e.Cause.Outcome, Err: e.Cause.err()})
	case e.Aborted:
		errs = append(errs, runtime.ErrAborted) // a cancelled workflow is an Abort
	}
	for _, rb := range e.Rollbacks {
		errs = append(errs, &runtime.RollbackError{Step: rb.Step, Err: rb.err()})
	}
	return errors.Join(errs...)
}

// workflowError is what the workflow returns for e: a cancellation for an
// aborted run (Temporal shows it canceled), else a non-retryable
// application error of type "flowgen.<state>" (Temporal shows it failed).
// Both carry e.
func (e *ending) workflowError() error {
	if e.Final == runtime.StateAborted {
		return temporal.NewCanceledError(*e)
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("flowgen: run ended %s: %v", e.Final, e.err()),
		endErrorType(string(e.Final)), nil, *e)
}

// endingOf reads how a run ended from its workflow's error (a failure or a
// cancellation carrying an ending); ok is false for any other error.
func endingOf(err error) (end ending, ok bool, derr error) {
	var app *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case errors.As(err, &app) && app.HasDetails():
		derr = app.Details(&end)
	case errors.As(err, &canceled) && canceled.HasDetails():
		derr = canceled.Details(&end)
	default:
		return end, false, nil
	}
	return end, derr == nil, derr
}
