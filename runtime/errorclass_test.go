package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// TestErrorClass: the runtime's sentinels, a panic and a context's errors
// have their names, wherever they are in the tree (the outermost wins, then
// the first of several wrapped); an ErrorTyper names its own; any other
// error is its Go type, past the wrappers that tell nothing, and an error
// that is only text is _OTHER. No class holds the error's text.
func TestErrorClass(t *testing.T) {
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "_OTHER"},
		{errors.New("card declined"), "_OTHER"},
		{runtime.Permanent(fmt.Errorf("declined: %w", errors.New("no"))), "_OTHER"},
		{runtime.AttemptTimeout(0), "timeout"},
		{&runtime.StepError{Step: "A", Err: runtime.DeadlinePassed(0)}, "timeout"},
		{runtime.NoTimeForRetry(0, 2, runtime.WithErrorType("broker_full", errors.New("full"))), "timeout"},
		{fmt.Errorf("%w: disk", runtime.ErrSink), "sink"},
		{fmt.Errorf("x: %w", runtime.ErrHistoryLimit), "history_limit"},
		{runtime.RoutedToFail("no"), "routed_to_fail"},
		{&runtime.StepError{Step: "A", Err: &runtime.PanicError{Value: "boom"}}, "panic"},
		{&runtime.HistoryError{Seq: 3, Msg: "bad"}, "history"},
		{context.Canceled, "canceled"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{errors.Join(errors.New("cause"), &runtime.RollbackError{Step: "A", Err: runtime.AttemptTimeout(0)}), "timeout"},
		{errors.Join(errors.New("cause"), &runtime.RollbackError{Step: "A", Err: errors.New("no")}), "_OTHER"},
		{fmt.Errorf("%w: %w", errors.New("publishing"), runtime.WithErrorType("message_too_large", errors.New("big"))), "message_too_large"},
		{fmt.Errorf("%w: %w", errors.New("publishing"), &net.DNSError{Err: "no such host", Name: "x"}), "*net.DNSError"},
		{errors.Join(runtime.RoutedToFail("no"), &runtime.RollbackError{Step: "A", Err: runtime.AttemptTimeout(0)}), "routed_to_fail"},
		{fmt.Errorf("natsbus: %w", runtime.WithErrorType("broker_full", errors.New("full"))), "broker_full"},
		{&url.Error{Op: "Post", URL: "http://x", Err: opErr}, "*net.OpError"},
		{&runtime.StepError{Step: "A", Err: &net.DNSError{Err: "no such host", Name: "x"}}, "*net.DNSError"},
		{&net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, "timeout"},
		{runtime.Permanent(runtime.ErrUnknownOutcome), "unknown_outcome"},
		{(&runtime.Step[struct{}]{ID: "A", Await: &runtime.Await[struct{}]{}}).CorrelationError(&runtime.Wait{Correlated: true}), "no_correlation"},
	} {
		if got := runtime.ErrorClass(c.err); got != c.want {
			t.Errorf("ErrorClass(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestWithErrorType: the error keeps its text and what it wraps.
func TestWithErrorType(t *testing.T) {
	base := errors.New("full")
	err := runtime.WithErrorType("broker_full", base)
	if err.Error() != "full" || !errors.Is(err, base) || runtime.WithErrorType("x", nil) != nil {
		t.Errorf("WithErrorType: %v", err)
	}
}
