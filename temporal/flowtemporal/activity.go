package flowtemporal

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/flowgen/flowgen/runtime"
)

// ActionInput is what the workflow hands an activity: which action, and
// the run's state as it was when the step started.
type ActionInput[S any] struct {
	Action runtime.Action `json:"action"`
	State  S              `json:"state"`
	// Pin names the definition the run follows, for a worker that runs
	// flows whose definition is chosen per run (Options.Pin).
	Pin string `json:"pin,omitempty"`
	// First is the attempt that Temporal's first attempt of the activity
	// is (0: the first): an activity scheduled again because its last
	// attempt lost its worker runs that attempt again (wfRun.activity).
	First int `json:"first,omitempty"`
	// Retried are the records of the attempts before First that failed,
	// which the attempts of the activity carry on (failedAttempt).
	Retried []failedAttempt `json:"retried,omitempty"`
	// Recorded is the number of events the run's history held before the
	// step's first attempt, for the run's own step or a branch of a block
	// (not a rollback): each retry checks the run's history bound before
	// it runs, as the runtime's attempts do (runtime.Flow.HistoryFull),
	// counting one retry event per failed attempt before it. A branch
	// counts its own retries only, not the events the block's other
	// branches record meanwhile, which the runtime counts: with branches
	// that end or retry beside it, it stops that many events later. 0: not
	// checked (a rollback, or a workflow of older code).
	Recorded int `json:"recorded,omitempty"`
}

// ActionOutput is what a step's activity returns, encoded (result): its
// outcome and the state after the step (the workflow takes it only from a successful attempt, as
// the runtime does), and the attempt that succeeded.
type ActionOutput[S any] struct {
	Outcome runtime.Outcome `json:"outcome"`
	State   S               `json:"state"`
	Attempt int             `json:"attempt"`
	// Retried are the attempts before Attempt that failed, as they left
	// their record (failedAttempt).
	Retried []failedAttempt `json:"retried,omitempty"`
}

// attemptDetail rides on a failed last attempt's error, so that the
// workflow can record which attempt failed last, and the ones before it.
type attemptDetail struct {
	Attempt int             `json:"attempt"`
	Retried []failedAttempt `json:"retried,omitempty"`
}

// ExecActivity runs one attempt of a step on the worker: the flow's own
// Exec and publications (runtime.Flow.ExecAction), with the step's
// idempotency key and Temporal's attempt number. Register registers it
// under each step's ActivityName.
//
// A branch of a parallel block runs on its own copy of the state and
// hands back only what the run takes of it: its writes
// (runtime.Step.MergeBranch) on the state the block started with. Its
// other changes are discarded, as the runtime discards them, so they need
// not encode as JSON: the runtime checks only what the merge leaves, and
// a branch that left a NaN in a field it does not write completes there.
func (f *Flow[S]) ExecActivity(ctx context.Context, in ActionInput[S]) (converter.RawValue, error) {
	return attempt(ctx, in, f.def.HistoryFull, f.maxInput(), func(a runtime.Action, s *S) (runtime.Outcome, error) {
		if !f.branch[a.Step] {
			return f.def.ExecAction(ctx, a, s)
		}
		work := *s
		out, err := f.def.ExecAction(ctx, a, &work)
		if err == nil {
			f.byID[a.Step].MergeBranch(s, &work)
		}
		return out, err
	})
}

// RollbackActivity runs one attempt of a step's rollback on the worker.
func (f *Flow[S]) RollbackActivity(ctx context.Context, in ActionInput[S]) (converter.RawValue, error) {
	return attempt(ctx, in, nil, f.maxInput(), func(a runtime.Action, s *S) (runtime.Outcome, error) {
		return runtime.OutcomeOK, f.def.RollbackAction(ctx, a, s)
	})
}

// attempt runs one attempt of an action (do) on a copy of the input state,
// heartbeating while it runs, and carries the record of the attempts
// before it that failed: in its output or its last error, or, when
// Temporal will retry it, on to the next attempt. A retry of the run's own
// step, or of a branch, first checks the run's history bound (full, the flow's
// runtime.Flow.HistoryFull; in.Recorded): past it, the attempt does not
// run and the step fails, as on the runtime. Its output (ActionOutput) is
// returned encoded, and fails the attempt, permanently, past limit, the
// cluster's payload limit (result).
func attempt[S any](ctx context.Context, in ActionInput[S], full func(recorded int) error, limit int, do func(runtime.Action, *S) (runtime.Outcome, error)) (converter.RawValue, error) {
	n := max(in.First, 1) - 1 + int(activity.GetInfo(ctx).Attempt)
	in.Action.Attempt = n
	prior := retriedBefore(ctx)
	if !activity.HasHeartbeatDetails(ctx) {
		prior = in.Retried
	}
	if full != nil && in.Recorded > 0 && n > 1 {
		// The history holds, besides the events before the first attempt,
		// the retry event of each attempt before this one.
		if err := full(in.Recorded + n - 1); err != nil {
			return converter.RawValue{}, temporal.NewApplicationErrorWithOptions(err.Error(), errTypeHistoryFull, temporal.ApplicationErrorOptions{
				NonRetryable: true,
				Details:      []any{attemptDetail{Attempt: n, Retried: prior}},
			})
		}
	}
	markStarted(ctx, prior, n)
	stop := heartbeat(ctx, prior, n)
	s := in.State
	out, err := do(in.Action, &s)
	stop()
	var res converter.RawValue
	if err == nil {
		res, err = result(&ActionOutput[S]{Outcome: out, State: s, Attempt: n, Retried: prior}, &s, limit)
	}
	if err != nil {
		d := attemptDetail{Attempt: n, Retried: prior}
		if errors.Is(context.Cause(ctx), worker.ErrWorkerShutdown) {
			// Cut by its worker's stop, past the worker's grace: the
			// attempt did not fail, it lost its worker (lostAttempt).
			return converter.RawValue{}, temporal.NewApplicationErrorWithOptions(err.Error(), errTypeLost, temporal.ApplicationErrorOptions{Details: []any{d}})
		}
		leaveRecord(ctx, in.Action, prior, err)
		return converter.RawValue{}, activityError(err, d)
	}
	return res, nil
}

// activityError turns a step's error into the application error Temporal
// retries or not: runtime.Permanent is non-retryable, as in the runtime,
// and an error wrapping runtime.ErrTimeout keeps its outcome "timeout".
func activityError(err error, d attemptDetail) error {
	typ := errTypeStep
	if errors.Is(err, runtime.ErrTimeout) {
		typ = errTypeTimeout
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), typ, temporal.ApplicationErrorOptions{
		NonRetryable: runtime.IsPermanent(err),
		Details:      []any{d},
	})
}

// heartbeat heartbeats for the running attempt n every heartbeatEvery
// until the returned stop is called, so that Temporal notices a dead worker
// within HeartbeatTimeout and a cancelled run's attempt learns it through
// ctx. An attempt shorter than heartbeatEvery never heartbeats. Each
// heartbeat carries the record of the failed attempts before it (prior),
// which Temporal keeps for the next attempt, and n (recordHeartbeat); stop
// returns once the last heartbeat is made, so that none can overwrite the
// attempt's own record.
func heartbeat(ctx context.Context, prior []failedAttempt, n int) (stop func()) {
	if activity.GetInfo(ctx).HeartbeatTimeout <= 0 {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				recordHeartbeat(ctx, prior, n)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(done); <-exited }
}
