package flowtemporal

import (
	"encoding/json"
	"errors"
	"fmt"

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
}

// remoteError is an error that crossed Temporal as text; it still wraps
// runtime.ErrTimeout when the original did.
type remoteError struct {
	msg     string
	timeout bool
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error {
	if e.timeout {
		return runtime.ErrTimeout
	}
	return nil
}

func (f *stepFailure) err() error { return &remoteError{msg: f.Err, timeout: f.Timeout} }

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
