package jsonflows

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/flowgen/flowgen/engine"
)

// The Temporal Schedules follow the flows registered, after the fact:
// the engine tells Activate and Replaced of a change once it is
// committed, when a failure cannot refuse it any more. What failed is
// done again in the background (keep) until it succeeds, so that the
// cluster comes to agree with the flows registered, or until the flow's
// attachment stops (the flow replaced: its replacement's Activate and
// Replaced take over; the engine closed: the next start does it).

// Bounds of keep's tries: the first waits keepFirst, each next twice as
// long, up to keepMost.
const (
	keepFirst = time.Second
	keepMost  = time.Minute
)

// attachment is a flow attached now (Attach): what keep does for it runs
// under ctx, and stop ends it.
type attachment struct {
	hash   string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // keep's tries in the background
}

// stop ends a's tries, and waits for them: a try of a replaced definition
// must not land after its replacement's. a is forgotten unless flow name
// was attached again since.
func (x *Executor) stop(name string, a *attachment) {
	x.mu.Lock()
	a.cancel()
	if x.attachments[name] == a {
		delete(x.attachments, name)
	}
	x.mu.Unlock()
	a.wg.Wait()
}

// keep does do under ctx and returns its error, op saying what failed;
// on an error it does it again in the background, under f's attachment,
// until it succeeds or the attachment stops. At most one background try
// runs per call, so two per attachment (Activate, Replaced).
func (x *Executor) keep(ctx context.Context, f engine.ExecFlow, op string, do func(context.Context) error) error {
	err := do(ctx)
	if err == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if a := x.attachments[f.Name]; a != nil && a.hash == f.Hash && a.ctx.Err() == nil {
		a.wg.Go(func() {
			wait := keepFirst
			for {
				t := time.NewTimer(wait)
				select {
				case <-a.ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				err := do(a.ctx)
				if a.ctx.Err() != nil {
					return
				}
				// Each try is logged, at most one a keepMost: until it
				// succeeds, the cluster disagrees with the flows
				// registered, which an operator must be able to see.
				if err != nil {
					x.log().Error("the cluster still refuses what a committed flow change needs (retrying)", "flow", f.Name, "op", op, "error", err)
					wait = min(2*wait, keepMost)
					continue
				}
				x.log().Info("the cluster took what a committed flow change needs, after a retry", "flow", f.Name, "op", op)
				return
			}
		})
	}
	return unreachable(ctx, op, err)
}

// log is where keep's background tries report (Options.Logger).
func (x *Executor) log() *slog.Logger {
	if x.opts.Logger != nil {
		return x.opts.Logger
	}
	return slog.Default()
}
