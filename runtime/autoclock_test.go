package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// TestAutoClockAttemptTimeout: a flow as flowgen generates it, each step
// with a timeout, is deterministic under an AutoClock. The backoff is
// skipped (the clock jumps over it), but no attempt times out while its
// step is still working: an AutoClock fires an attempt's timeout only when
// the test advances the clock past it.
func TestAutoClockAttemptTimeout(t *testing.T) {
	for i := range 200 {
		clock := runtime.NewAutoClock(epoch)
		f := runtime.New[state]("timeouts", runtime.WithClock(clock))
		mustRegister(t, f,
			runtime.NewStep("Work", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				// Real work, off the clock: a reply from another goroutine.
				reply := make(chan int)
				go func() { reply <- len(s.Log) }()
				<-reply
				return runtime.OutcomeOK, nil
			}, runtime.WithTimeout[state](5*time.Second)),
			runtime.NewStep("Flaky", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				if runtime.Attempt(ctx) == 1 {
					return "", errBoom
				}
				return runtime.OutcomeOK, nil
			}, runtime.WithTimeout[state](5*time.Second),
				runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 2, Initial: time.Second})))
		res, err := f.Execute(context.Background(), state{})
		if err != nil || res.Final != runtime.StateDone {
			t.Fatalf("run %d: %s, %v; want done", i, res.Final, err)
		}
		// Only the backoff moved the time; the timeouts are stopped, unfired.
		if got := clock.Now().Sub(epoch); got != time.Second || clock.Pending() != 0 {
			t.Fatalf("run %d: clock moved %v with %d timers pending; want 1s (the backoff), none", i, got, clock.Pending())
		}
	}
}

// TestAutoClockAdvanceFiresTimeout: under an AutoClock an attempt that
// outlives its timeout is cut when the test advances past it.
func TestAutoClockAdvanceFiresTimeout(t *testing.T) {
	clock := runtime.NewAutoClock(epoch)
	f := runtime.New[state]("stuck", runtime.WithClock(clock))
	mustRegister(t, f, runtime.NewStep("Stuck", func(ctx context.Context, s *state) (runtime.Outcome, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}, runtime.WithTimeout[state](time.Minute)))
	run, err := f.Start(context.Background(), state{})
	if err != nil {
		t.Fatal(err)
	}
	clock.BlockUntil(1) // the attempt's timeout
	clock.Advance(time.Minute)
	res, err := run.Wait(context.Background())
	if !errors.Is(err, runtime.ErrTimeout) || res.Final != runtime.StateFailed {
		t.Fatalf("%s, %v; want failed on a timeout", res.Final, err)
	}
}
