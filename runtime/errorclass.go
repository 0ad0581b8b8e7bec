package runtime

// The class of an error, as OpenTelemetry's conventions ask of a failed
// span's error.type: low-cardinality, never the error's text. One home for
// every span that fails with a Go error (observe's step, rollback, run and
// wait spans, the engine's publications, engine/httpcall's calls).

import (
	"context"
	"net/url"
	"reflect"
)

// ErrorTyper is an error that names its own class (ErrorClass): an
// engine's broker errors (broker full, too large, unreachable) say theirs
// so, without observe importing the engine.
type ErrorTyper interface {
	ErrorType() string
}

// ErrorClassOther is the conventions' error.type of an error nothing
// better is known of.
const ErrorClassOther = "_OTHER"

// The classes of the runtime's own errors, of the context's, and of an
// error that says it timed out (Timeout() true, as net.Error does).
var sentinelClasses = [...]struct {
	err   error
	class string
}{
	{ErrSink, "sink"},
	{ErrHistoryLimit, "history_limit"},
	{ErrTimeout, "timeout"},
	{ErrAborted, "aborted"},
	{ErrRoutedToFail, "routed_to_fail"},
	{ErrUnknownOutcome, "unknown_outcome"},
	{ErrBranchCancelled, "branch_cancelled"},
	{ErrChildNotStarted, "child_not_started"},
	{ErrHistory, "history"},
	{ErrNotConfigured, "not_configured"},
	{ErrDefinition, "definition"},
	{ErrNoCorrelation, "no_correlation"},
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "canceled"},
}

// ErrorClass is err's error.type: walking err's tree from the outside in,
// as errors.Is does (a wrapper of several errors, each in turn: a run's
// cause before its rollbacks' errors), the first class that is a
// well-known one: one of the runtime's
// sentinels or a context's error (ErrTimeout: "timeout"; ErrSink: "sink";
// context.Canceled: "canceled"; ...), a *PanicError ("panic"), an error
// that says it timed out ("timeout"), or an ErrorTyper, which names its
// own. Else the Go type of the first error of the tree that is not a
// mere wrapper (fmt's, errors', *url.Error, the runtime's *StepError,
// *RollbackError, Permanent and GateClosed), as otelhttp names it
// ("*net.OpError"); ErrorClassOther for an error that is only text
// (errors.New, fmt.Errorf) or nil.
func ErrorClass(err error) string {
	if c := firstOf(err, knownClass); c != "" {
		return c
	}
	if c := firstOf(err, func(e error) string {
		if mereWrapper(e) {
			return ""
		}
		return typeName(e)
	}); c != "" {
		return c
	}
	return ErrorClassOther
}

// firstOf is the first of class's answers, not "", for the errors of err's
// tree, err first, then what it wraps, depth first.
func firstOf(err error, class func(error) string) string {
	if err == nil {
		return ""
	}
	if c := class(err); c != "" {
		return c
	}
	switch w := err.(type) {
	case interface{ Unwrap() error }:
		return firstOf(w.Unwrap(), class)
	case interface{ Unwrap() []error }:
		for _, e := range w.Unwrap() {
			if c := firstOf(e, class); c != "" {
				return c
			}
		}
	}
	return ""
}

// knownClass is the well-known class of e itself, not of what it wraps,
// or "".
func knownClass(e error) string {
	for _, s := range sentinelClasses {
		if e == s.err {
			return s.class
		}
	}
	switch e := e.(type) {
	case *PanicError:
		return "panic"
	case ErrorTyper:
		if c := e.ErrorType(); c != "" {
			return c
		}
	case interface{ Timeout() bool }:
		if e.Timeout() {
			return "timeout"
		}
	}
	return ""
}

// mereWrapper reports whether e's type tells nothing of its own: text
// (errors.New, fmt.Errorf, errors.Join), or a wrapper of the runtime or of
// net/http's client that adds where, not what.
func mereWrapper(e error) bool {
	switch e.(type) {
	case *StepError, *RollbackError, *permanentError, *gateClosedError, *HistoryError, *url.Error:
		return true
	}
	t := reflect.TypeOf(e)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.PkgPath() {
	case "errors", "fmt":
		return true
	}
	return false
}

// typeName is the Go type of err: as Go writes it for a pointer
// ("*net.OpError"), else its package path and name.
func typeName(err error) string {
	t := reflect.TypeOf(err)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}

// WithErrorType returns err with class as its error.type (ErrorClass),
// its text and what it wraps unchanged; nil for a nil err.
func WithErrorType(class string, err error) error {
	if err == nil {
		return nil
	}
	return &typedError{class, err}
}

type typedError struct {
	class string
	err   error
}

func (e *typedError) Error() string     { return e.err.Error() }
func (e *typedError) Unwrap() error     { return e.err }
func (e *typedError) ErrorType() string { return e.class }
