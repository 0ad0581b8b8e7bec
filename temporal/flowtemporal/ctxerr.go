package flowtemporal

import (
	"context"
	"errors"
	"time"
)

// contextEnded is err, from a call to Temporal under ctx, made to wrap
// ctx's error when ctx has ended and err does not already: the SDK
// answers a call its context ended with a *serviceerror.DeadlineExceeded
// or Canceled, which wraps neither context.DeadlineExceeded nor
// context.Canceled, where the runtime's handle answers ctx's error. The
// SDK's error stays in the chain (errors.As finds it) and its text is the
// error's. A deadline that has passed counts although ctx.Err is still
// nil: the SDK's call runs under a context of its own with ctx's deadline,
// whose timer may fire, and the call answer, before ctx's own does.
func contextEnded(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(d) {
		cerr = context.DeadlineExceeded
	}
	if err == nil || cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return &endedError{err: err, ctx: cerr}
}

// endedError is an error of a call whose context ended (contextEnded).
type endedError struct{ err, ctx error }

func (e *endedError) Error() string   { return e.err.Error() }
func (e *endedError) Unwrap() []error { return []error{e.err, e.ctx} }
