package provider

// A handler's panic: answered as a retryable error with the panic's value,
// its stack logged. Whoever may call the provider (the engine; over NATS,
// whoever may publish on its subjects; over HTTP, anyone, when the engine
// sends no call credential) chooses the request, and so how often a
// handler that panics on some input panics, and the run ID and key the
// line repeats: the lines are bounded, in number as the engine's refusals
// are (internal/ratelog) and each in size, so that a flood of calls
// cannot fill the provider's log and its disk.

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/flowgen/flowgen/internal/ratelog"
	"github.com/flowgen/flowgen/internal/snippet"
)

const (
	// PanicLogBurst is how many handler panics a Provider logs, each with
	// its stack, in a PanicLogInterval; it counts the others and logs
	// their number ("suppressed") with the first panic of a later
	// interval. Each is answered all the same.
	PanicLogBurst = 20
	// PanicLogInterval is the interval of PanicLogBurst.
	PanicLogInterval = time.Minute
	// maxPanicText bounds the panic's value and each of the request's
	// run ID and idempotency key in a panic's line (an engine's are far
	// shorter: 128 and 255 bytes).
	maxPanicText = 1 << 10
)

func newPanicLog(opts Options) *ratelog.Logger {
	return &ratelog.Logger{Bound: ratelog.Bound{Burst: PanicLogBurst, Interval: PanicLogInterval},
		Log: opts.Logger, Now: time.Now, Suppressed: "provider handler panics not logged"}
}

// panicked logs the panic v of the handler of req, with its stack, and
// returns the answer: a retryable error with the panic's value alone. The
// stack is this service's to read: its log has it. The answer goes into
// the run's history, which every client of the flow service reads, cut to
// 4 KiB, where a stack told them this service's source paths and lost its
// end.
func (p *Provider) panicked(req Request, v any) Response {
	p.panics.Error("provider handler panicked", "provider", p.opts.Name, "handler", req.Handler,
		"run_id", snippet.Cut(req.RunID, maxPanicText), "idempotency_key", snippet.Cut(req.IdempotencyKey, maxPanicText),
		"attempt", req.Attempt, "panic", snippet.Cut(fmt.Sprint(v), maxPanicText), "stack", string(debug.Stack()))
	return Response{Error: &Error{Message: fmt.Sprintf("handler %q panicked: %v (the provider's log has the stack)", req.Handler, v), Class: ClassRetryable}}
}
