package runtime

import (
	"errors"
	"fmt"
)

// DefaultMaxHistory bounds the events of one run's history unless
// WithMaxHistory says otherwise: Step Functions' limit (25,000 events);
// Temporal's is about 50,000.
const DefaultMaxHistory = 25_000

// ErrHistoryLimit is the cause of a run that reached its history bound
// (WithMaxHistory): a loop that never ends, or a run far longer than its
// flow was meant for.
var ErrHistoryLimit = errors.New("runtime: run history limit reached")

// WithMaxHistory bounds the history of every run of the flow to n events
// (n <= 0: DefaultMaxHistory). A run whose history holds n events when a
// step is about to run (an attempt, a retry, the step after a jump; a
// retry of a parallel block's branch) fails there instead, with an error wrapping ErrHistoryLimit, and is
// compensated as any failed run: the completed steps roll back, so the
// rollbacks' events come after the n (at most two per completed step
// with a rollback, one per retry of a rollback, one per event that opens
// a gated rollback's attempt, and the final event): past the bound, a
// gated rollback's attempt that finds its gate closed (GateClosed) no
// longer goes back to it, and fails as the error it wraps.
// Without a bound, a cycle of steps that never waits (which `flowgen
// check` warns about) would run and record events until its context is
// cancelled.
func WithMaxHistory(n int) Option {
	return func(o *options) {
		o.maxEvents = 0
		if n > 0 {
			o.maxEvents = uint64(n)
		}
	}
}

// historyFull returns the error that fails the run when its history has
// reached its bound, or nil.
func (r *Run[S]) historyFull() error {
	return historyFull(r.env.opts.maxEvents, r.progress.seq, r.def.id)
}

// HistoryFull returns the error that fails a run of f whose history holds
// recorded events when a step is about to run, or a parallel block is
// entered, or nil: f's bound (WithMaxHistory), as the runtime applies it,
// for an executor that runs f's definition elsewhere (flowtemporal).
func (f *Flow[S]) HistoryFull(recorded int) error {
	return historyFull(f.opts.maxEvents, uint64(max(recorded, 0)), f.id)
}

func historyFull(bound, recorded uint64, flow string) error {
	if bound == 0 || recorded < bound {
		return nil
	}
	// recorded may pass bound: a wait entered below it records its end.
	return fmt.Errorf("%w: %d events recorded, the bound of flow %q is %d (runtime.WithMaxHistory; default %d)", ErrHistoryLimit, recorded, flow, bound, DefaultMaxHistory)
}
