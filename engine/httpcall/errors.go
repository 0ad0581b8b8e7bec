package httpcall

// The errors of calls that got no answer: they name the service and the
// endpoint, never the service's address.

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/flowgen/flowgen/internal/neterr"
	"github.com/flowgen/flowgen/runtime"
)

const (
	// FailLogBurst is how many calls that got no answer a Caller logs in a
	// FailLogInterval; it counts the others and logs their number
	// ("suppressed") with the first failed call of a later interval. While
	// a service is down every attempt of every run in flight fails so, and
	// clients starting runs make more at will: a flood would fill the log
	// and its disk. Each failure is still the step's error, in its run's
	// history.
	FailLogBurst = 20
	// FailLogInterval is the interval of FailLogBurst.
	FailLogInterval = time.Minute
)

// CallError is the error of a call that got no answer from the service:
// it could not connect, the connection broke or timed out, a redirect led
// to another host or would resend it as a GET, or the endpoint's URL would
// leave the service's base URL. Its text names the service, the endpoint and what went wrong,
// never the service's address: an rpc step's error is recorded in its
// run's history, which every client of an engine may read (GET
// /runs/{id}/history), and the addresses inside the operator's network are
// not theirs to see. The Caller logs the whole error, URL and addresses
// included (WithLogger), at most FailLogBurst of them a FailLogInterval.
type CallError struct {
	Service, Endpoint string
	// What says what went wrong, without an address: "connection
	// refused", "timeout", ...
	What string
	// Err is the whole error, address included: for the operator's log.
	// Unwrap returns it, so errors.Is finds ErrRedirect,
	// ErrRedirectMethod, ErrEndpoint or syscall.ECONNREFUSED in a
	// CallError.
	Err error
}

func (e *CallError) Error() string { return e.Service + " " + e.Endpoint + ": " + e.What }

func (e *CallError) Unwrap() error { return e.Err }

// ErrorType is the error's class (runtime.ErrorTyper), on the call's span
// and on the span of the step that failed of it: "redirect" for a redirect
// refused, else its cause's class (runtime.ErrorClass: "timeout",
// "canceled", the transport error's Go type, "*net.OpError"), which the
// CallError, saying where, would hide as its own Go type.
func (e *CallError) ErrorType() string {
	if errors.Is(e.Err, ErrRedirect) || errors.Is(e.Err, ErrRedirectMethod) {
		return errTypeRedirect
	}
	return runtime.ErrorClass(e.Err)
}

// failed is the one place a call's error that may hold the service's
// address becomes the error the step records: a CallError saying what
// went wrong, doing what (or ""), while the log gets err whole.
func (c *Caller) failed(ctx context.Context, service, endpoint, doing string, err error) *CallError {
	c.fails.WarnContext(ctx, "rpc call failed", "service", service, "endpoint", endpoint, "error", err)
	w := what(err)
	if doing != "" {
		w = doing + ": " + w
	}
	return &CallError{Service: service, Endpoint: endpoint, What: w, Err: err}
}

// what says what went wrong in err, from its kind alone: the Caller's own
// refusals, else neterr.Describe.
func what(err error) string {
	switch {
	case errors.Is(err, ErrRedirect):
		return sentinelText(ErrRedirect)
	case errors.Is(err, ErrRedirectMethod):
		return sentinelText(ErrRedirectMethod)
	case errors.Is(err, ErrEndpoint):
		return sentinelText(ErrEndpoint)
	}
	return neterr.Describe(err)
}

// sentinelText is a sentinel error's text without the package's prefix.
func sentinelText(err error) string { return strings.TrimPrefix(err.Error(), "httpcall: ") }
