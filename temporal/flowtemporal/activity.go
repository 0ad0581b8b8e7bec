package flowtemporal

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

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
}

// ActionOutput is what a step's activity returns: its outcome and the state
// after the step (the workflow takes it only from a successful attempt, as
// the runtime does), and the attempt that succeeded.
type ActionOutput[S any] struct {
	Outcome runtime.Outcome `json:"outcome"`
	State   S               `json:"state"`
	Attempt int             `json:"attempt"`
}

// attemptDetail rides on a failed attempt's error, so that the workflow can
// record which attempt failed last.
type attemptDetail struct {
	Attempt int `json:"attempt"`
}

// ExecActivity runs one attempt of a step on the worker: the flow's own
// Exec and publications (runtime.Flow.ExecAction), with the step's
// idempotency key and Temporal's attempt number. Register registers it
// under each step's ActivityName.
func (f *Flow[S]) ExecActivity(ctx context.Context, in ActionInput[S]) (ActionOutput[S], error) {
	in.Action.Attempt = int(activity.GetInfo(ctx).Attempt)
	defer heartbeat(ctx)()
	s := in.State
	out, err := f.def.ExecAction(ctx, in.Action, &s)
	if err != nil {
		return ActionOutput[S]{}, activityError(err, in.Action.Attempt)
	}
	return ActionOutput[S]{Outcome: out, State: s, Attempt: in.Action.Attempt}, nil
}

// RollbackActivity runs one attempt of a step's rollback on the worker.
func (f *Flow[S]) RollbackActivity(ctx context.Context, in ActionInput[S]) (ActionOutput[S], error) {
	in.Action.Attempt = int(activity.GetInfo(ctx).Attempt)
	defer heartbeat(ctx)()
	s := in.State
	if err := f.def.RollbackAction(ctx, in.Action, &s); err != nil {
		return ActionOutput[S]{}, activityError(err, in.Action.Attempt)
	}
	return ActionOutput[S]{Outcome: runtime.OutcomeOK, State: s, Attempt: in.Action.Attempt}, nil
}

// activityError turns a step's error into the application error Temporal
// retries or not: runtime.Permanent is non-retryable, as in the runtime,
// and an error wrapping runtime.ErrTimeout keeps its outcome "timeout".
func activityError(err error, attempt int) error {
	typ := errTypeStep
	if errors.Is(err, runtime.ErrTimeout) {
		typ = errTypeTimeout
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), typ, temporal.ApplicationErrorOptions{
		NonRetryable: runtime.IsPermanent(err),
		Details:      []any{attemptDetail{Attempt: attempt}},
	})
}

// heartbeat heartbeats for the running attempt every heartbeatEvery until
// the returned stop is called, so that Temporal notices a dead worker
// within HeartbeatTimeout and a cancelled run's attempt learns it through
// ctx. An attempt shorter than heartbeatEvery never heartbeats.
func heartbeat(ctx context.Context) (stop func()) {
	if activity.GetInfo(ctx).HeartbeatTimeout <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(done) }
}
