package runtime

import (
	"context"
	"time"
)

// Observing runs.
//
// A tracer or a metrics recorder watches a flow's runs through an Observer
// (WithObserver). The runtime imports no telemetry library: package observe
// implements Observer with OpenTelemetry. Without an observer each hook
// costs the runtime one nil check.

// Observer watches the runs of a flow (WithObserver).
type Observer interface {
	// ObserveRun is called when a run begins its life in this process:
	// when it starts, before its first event is recorded, and when Resume
	// continues it from its history. ctx is the context given to Start,
	// Execute or Resume; the context returned replaces it as the parent of
	// everything the run does (a tracer puts the run's span in it, so that
	// the steps' service calls carry it). It returns the run's
	// RunObserver, called on the run's goroutine from then on.
	ObserveRun(ctx context.Context, run RunInfo) (context.Context, RunObserver)
}

// RunInfo is what an Observer is told of a run beginning its life in this
// process.
type RunInfo struct {
	Flow  string
	RunID string
	// Resumed: the run continues from its history (Resume), in the machine
	// state Machine (for example "X:waiting": the run waits again).
	Resumed bool
	Machine string
	// Wait is, for a run resumed parked, what it waits for: the Wait its
	// history's last event recorded (Event.Parks: a waiting state, or a
	// rollback attempt that waits for its child or its event), with the
	// identifying fields (Flow, RunID, Step, and Key: the idempotency key
	// of the visit or the rollback that waits); nil when the run does not
	// wait. Observers must not modify it.
	Wait *Wait
	// WaitSince is when that wait began: the time of the event that
	// recorded it, on the flow's clock (zero when the run does not wait),
	// so that an observer can tell how long the run has waited across
	// its lives.
	WaitSince time.Time
	// Trace is the last Event.Trace of the run's history: what an earlier
	// life of the run, in this process or another, recorded of its span.
	// "" for a new run.
	Trace string
}

// RunObserver watches one run's life in this process.
type RunObserver interface {
	// Trace returns what the run records in Event.Trace of the first event
	// it records in this life (a tracer: the W3C traceparent of the run's
	// span), so that a later Resume can link to it; "" records nothing.
	Trace() string
	// Action is called before each attempt of a step's action or of a
	// rollback, with the attempt's parent context. It returns the context
	// the attempt runs under, and a function the runtime calls once with
	// how the attempt ended: its outcome ("ok" or a named outcome, "error",
	// "timeout") and its error. A named outcome that fails the step (one
	// the flow does not route, any for a branch) is seen as "error" with
	// the step's ErrUnknownOutcome. The error of a parallel block's branch
	// cancelled because another branch failed wraps ErrBranchCancelled
	// (Event.Cancelled), and that of an attempt that went back to its
	// gate, which failed nothing (GateClosed, Event.BackAtGate),
	// ErrBackAtGate.
	Action(ctx context.Context, a Action) (context.Context, func(out Outcome, err error))
	// Recorded is called with every event the sink accepted, in order,
	// before the run moves on. It must not keep e or modify it. An event
	// that parks the run (Event.Parks) comes with its Wait identified, as
	// RunInfo.Wait is (the sink's copy is not: the history records the
	// identity once, on the event).
	Recorded(e *Event)
	// Ended is called once, when the run's life in this process ends: it
	// ended (final is its terminal state), a sink stopped it, Suspend
	// stopped it (err wraps ErrSuspended), or its first event was refused
	// (final is failed, err wraps ErrSink, or ErrDuplicateRun when the sink
	// has a run of that ID). It is called before the run's
	// Done is closed, so whoever waits for the run finds it observed.
	Ended(final RunState, err error)
}

// WithObserver sets the Observer of the flow's runs (default: none).
func WithObserver(o Observer) Option { return func(o2 *options) { o2.observer = o } }

// observe tells the flow's observer, if any, that r begins its life here;
// history is the run's history when it resumes, and was the progress it
// left. It returns the context the run derives its own from.
func (r *Run[S]) observe(ctx context.Context, history []Event, was *progress) context.Context {
	o := r.env.opts.observer
	if o == nil {
		return ctx
	}
	info := RunInfo{Flow: r.def.id, RunID: r.env.runID, Machine: MachinePending}
	if len(history) > 0 {
		info.Resumed, info.Machine = true, history[len(history)-1].To
		for i := len(history) - 1; i >= 0; i-- {
			if t := history[i].Trace; t != "" {
				info.Trace = t
				break
			}
		}
		last := &history[len(history)-1]
		if info.Wait = was.parked(last); info.Wait != nil {
			info.WaitSince = last.Time
		}
	}
	ctx, r.obs = o.ObserveRun(ctx, info)
	return ctx
}

// observeAttempt starts the observation of the current attempt of v's
// step (on the run's goroutine, or on a branch's: only v is read then),
// and returns the context the attempt runs under and the function that ends
// the observation (nil without an observer).
func (r *Run[S]) observeAttempt(v *visitRun[S]) (context.Context, func(Outcome, error)) {
	if r.obs == nil {
		return v.ctx, nil
	}
	visit := v.visit
	if v.msgs == nil {
		visit = r.progress.visits[v.d.index]
	}
	a := Action{RunID: r.env.runID, Step: v.d.ID, Visit: int(visit), Attempt: *v.attempt}
	return r.obs.Action(v.ctx, a)
}

// observeRollback starts the observation of the current attempt of d's
// rollback, under the run's quiet context (abort does not cancel it).
func (r *Run[S]) observeRollback(d *stepDef[S]) (context.Context, func(Outcome, error)) {
	if r.obs == nil {
		return r.quiet, nil
	}
	p := &r.progress
	a := Action{RunID: r.env.runID, Step: d.ID, Visit: int(p.undoing.visit), Attempt: p.attempt, Rollback: true}
	return r.obs.Action(r.quiet, a)
}

// attemptOutcome is the outcome an attempt that returned (out, err) ends
// with, as observers see it.
func attemptOutcome(out Outcome, err error) Outcome {
	if err != nil {
		return failedOutcome(err)
	}
	return okOutcome(out)
}
