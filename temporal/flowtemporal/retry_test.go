package flowtemporal

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

func TestRetryPolicy(t *testing.T) {
	for _, c := range []struct {
		in                runtime.RetryPolicy
		initial, maxIntvl time.Duration
		mult              float64
		attempts          int32
	}{
		{runtime.RetryPolicy{Attempts: 5, Initial: 20 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: true}, 20 * time.Millisecond, time.Second, 2, 5},
		{runtime.RetryPolicy{}, minInterval, minInterval, 1, 1},                                               // once, at once
		{runtime.RetryPolicy{Attempts: 20, Max: time.Second, Multiplier: 3}, minInterval, minInterval, 1, 20}, // at once, every time
		// No cap: the longest interval 4 attempts reach, 100ms*3^2.
		{runtime.RetryPolicy{Attempts: 4, Initial: 100 * time.Millisecond, Multiplier: 3}, 100 * time.Millisecond, 900 * time.Millisecond, 3, 4},
	} {
		p := RetryPolicy(c.in)
		if p.InitialInterval != c.initial || p.MaximumInterval != c.maxIntvl || p.BackoffCoefficient != c.mult || p.MaximumAttempts != c.attempts {
			t.Errorf("RetryPolicy(%+v) = %+v", c.in, p)
		}
	}
}

// Temporal waits, after each failed attempt, the runtime's backoff
// ceiling for it (runtime.BackoffCeiling: jitter is dropped), or
// minInterval where that is less (zero: retry at once). A policy without a
// backoff retried at 1 ms, then 2, 4, ... doubling as Temporal grows its
// interval: 20 attempts waited 262 s before the last, where the runtime
// retries at once.
func TestRetryIntervalsAsTheRuntime(t *testing.T) {
	for _, p := range []runtime.RetryPolicy{
		{Attempts: 20},
		{Attempts: 20, Max: 5 * time.Second, Multiplier: 3},
		{Attempts: 12, Initial: 100 * time.Millisecond, Max: 2 * time.Second},
		{Attempts: 6, Initial: 100 * time.Millisecond, Multiplier: 3},
		{Attempts: 5, Initial: 20 * time.Millisecond, Max: time.Second, Jitter: true},
	} {
		tp := RetryPolicy(p)
		for n := 1; n < p.Attempts; n++ {
			if got, want := retryInterval(tp, n), max(runtime.BackoffCeiling(p, n), minInterval); got != want {
				t.Errorf("%+v: after attempt %d Temporal waits %v, want %v", p, n, got, want)
			}
		}
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	for _, c := range []struct {
		start, sched, want time.Duration
	}{
		{DefaultTimeout, 0, HeartbeatTimeout},
		{time.Minute, 0, HeartbeatTimeout},
		{5 * time.Second, 0, 0},
		{HeartbeatTimeout, 0, 0},
		{0, time.Hour, HeartbeatTimeout},
		{0, 3 * time.Second, 0},
		{time.Hour, 2 * time.Second, 0},
	} {
		ao := workflow.ActivityOptions{StartToCloseTimeout: c.start, ScheduleToCloseTimeout: c.sched}
		if got := heartbeatTimeout(ao); got != c.want {
			t.Errorf("StartToClose %v, ScheduleToClose %v: %v, want %v", c.start, c.sched, got, c.want)
		}
	}
}

// WorkerOptions sends a running attempt's heartbeats at least as often as
// it makes them, and well within HeartbeatTimeout; the SDK's own interval
// (0.8 times the timeout, when none is set) leaves a live worker 2 s.
func TestWorkerOptions(t *testing.T) {
	sdkDefault := time.Duration(0.8 * float64(HeartbeatTimeout))
	for _, c := range []struct {
		in, want time.Duration
	}{
		{0, heartbeatEvery},              // the SDK's default: lowered
		{time.Minute, heartbeatEvery},    // longer than the heartbeats: lowered
		{time.Second, time.Second},       // lower, set by the user: kept
		{heartbeatEvery, heartbeatEvery}, // the same
		{-time.Second, heartbeatEvery},   // not a setting the SDK reads
	} {
		got := WorkerOptions(worker.Options{MaxHeartbeatThrottleInterval: c.in, MaxConcurrentActivityExecutionSize: 7})
		if got.MaxHeartbeatThrottleInterval != c.want || got.MaxConcurrentActivityExecutionSize != 7 {
			t.Errorf("WorkerOptions(%v) = %v, %d; want %v and the other options kept", c.in, got.MaxHeartbeatThrottleInterval, got.MaxConcurrentActivityExecutionSize, c.want)
		}
	}
	// The deadlock detector's bound: raised to TaskTimeout, one set kept.
	if got := WorkerOptions(worker.Options{}).DeadlockDetectionTimeout; got != TaskTimeout {
		t.Errorf("WorkerOptions sets DeadlockDetectionTimeout %v; want %v", got, TaskTimeout)
	}
	if got := WorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute}).DeadlockDetectionTimeout; got != time.Minute {
		t.Errorf("WorkerOptions changed a DeadlockDetectionTimeout set to 1m to %v", got)
	}
	if slack := HeartbeatTimeout - heartbeatEvery; slack < 3*(HeartbeatTimeout-sdkDefault) {
		t.Errorf("a heartbeat reaches the server %v within the timeout; want well more than the SDK default's %v", slack, HeartbeatTimeout-sdkDefault)
	}
}

// A failed attempt's record keeps at most maxRecordedError bytes of its
// error, cut at a rune boundary.
func TestRecordedError(t *testing.T) {
	short := errors.New("unavailable")
	if got := recordedError(short); got != "unavailable" {
		t.Errorf("short error recorded as %q", got)
	}
	long := errors.New(strings.Repeat("a", maxRecordedError-1) + "é and more")
	got := recordedError(long)
	if want := strings.Repeat("a", maxRecordedError-1) + "..."; got != want {
		t.Errorf("long error recorded as ...%q, want ...%q", got[len(got)-8:], want[len(want)-8:])
	}
	if !utf8.ValidString(got) {
		t.Error("the cut error is not valid UTF-8")
	}
}

// A step without a backoff, retried at once (minInterval, no growth), and
// a rollback so, run on the server, which takes the policy: each fails
// twice, then succeeds on its third attempt.
func TestRetryAtOnceOnTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	var j journal
	flaky := func(ctx context.Context, what string) error {
		n := runtime.Attempt(ctx)
		j.add("%s a%d", what, n)
		if n < 3 {
			return errors.New("flaky")
		}
		return nil
	}
	def := runtime.New[nap]("Eager")
	must(t, def.Register(
		runtime.NewStep("Try", func(ctx context.Context, _ *nap) (runtime.Outcome, error) { return "", flaky(ctx, "do") },
			runtime.WithRetry[nap](runtime.RetryPolicy{Attempts: 3}),
			runtime.WithRollback(func(ctx context.Context, _ *nap) error { return flaky(ctx, "undo") }),
			runtime.WithRollbackRetry[nap](runtime.RetryPolicy{Attempts: 3})),
		runtime.NewStep("Refuse", func(context.Context, *nap) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("refused"))
		}, runtime.WithIrreversible[nap]()),
	))
	f, err := New(def)
	must(t, err)
	ts := testserver.New(t, temporaltest.WithBaseWorkerOptions(WorkerOptions(worker.Options{})))
	ts.NewWorker("eager", f.Register)
	ctx := context.Background()
	run, err := Start(ctx, ts.GetDefaultClient(), "Eager", nap{}, client.StartWorkflowOptions{ID: "eager-1", TaskQueue: "eager"})
	must(t, err)
	res, _ := run.Wait(ctx)
	if want := []string{"do a1", "do a2", "do a3", "undo a1", "undo a2", "undo a3"}; res.Final != runtime.StateCompensated || !slices.Equal(j.get(), want) {
		t.Fatalf("ended %s (%v) after %q, want compensated after %q", res.Final, res.Err, j.get(), want)
	}
}
