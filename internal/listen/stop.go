package listen

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// StopContext is the context a serve command runs under: the first SIGINT
// or SIGTERM cancels it, which begins the graceful stop (up to
// ShutdownTimeout for the open requests, as long again for the runs).
// Once it is cancelled the signals are the process's again, so that a
// second one ends the process at once, as its default does: an operator's
// second Ctrl-C, or a supervisor's repeated SIGTERM, is not ignored for up
// to a minute. That loses nothing a kill -9 would not: every answered
// request is durable, and a run resumes from its history.
func StopContext() (ctx context.Context, stop context.CancelFunc) {
	ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}
