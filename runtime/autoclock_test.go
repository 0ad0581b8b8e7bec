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

// TestAutoClockAwaitDeadline shows what docs/runtime.md ("Testing flows")
// says of an await under an AutoClock: its deadline is a timer the run
// waits on alone, so it fires at once. An event already published when
// the run reaches the await (a MemoryBus keeps it) is taken first, every
// time: the subscription comes before the timer. Without one the step
// ends with the outcome timeout at once, the clock moved by the timeout,
// and an event published later finds no wait. To deliver an event while
// the run waits, a test takes a manual FakeClock: BlockUntil(1) (the
// deadline's timer: the run is waiting), publish, and the run takes it.
func TestAutoClockAwaitDeadline(t *testing.T) {
	paid := map[string]any{"correlation_id": "o-1", "amount": 3}
	flow := func(clock *runtime.FakeClock, bus *runtime.MemoryBus) *runtime.Flow[order] {
		f := runtime.New[order]("Orders", runtime.WithSubscriber(bus), runtime.WithClock(clock))
		err := f.Register(awaitPaid(time.Hour, runtime.WithNext[order](runtime.OutcomeTimeout, "Late")),
			runtime.NewStep("OnTime", func(ctx context.Context, s *order) (runtime.Outcome, error) {
				s.Route = "OnTime"
				return "", nil
			}, runtime.WithNext[order](runtime.OutcomeOK, runtime.Done)),
			route("Late"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	t.Run("published before", func(t *testing.T) {
		for i := range 100 {
			clock, bus := runtime.NewAutoClock(epoch), runtime.NewMemoryBus()
			if err := bus.Publish(context.Background(), "payments", "paid", paid); err != nil {
				t.Fatal(err)
			}
			res, err := flow(clock, bus).Execute(context.Background(), order{OrderID: "o-1"})
			if err != nil || res.State.Route != "OnTime" || res.State.Paid.Amount != 3 {
				t.Fatalf("run %d: route %q, paid %d, %v; want the kept event taken before the deadline", i, res.State.Route, res.State.Paid.Amount, err)
			}
			if clock.Now() != epoch {
				t.Fatalf("run %d: the clock moved to %v: the deadline fired", i, clock.Now())
			}
		}
	})
	t.Run("none yet", func(t *testing.T) {
		clock, bus := runtime.NewAutoClock(epoch), runtime.NewMemoryBus()
		res, err := flow(clock, bus).Execute(context.Background(), order{OrderID: "o-1"})
		if err != nil || res.State.Route != "Late" {
			t.Fatalf("route %q, %v; want Late: the deadline fires at once", res.State.Route, err)
		}
		if got := clock.Now().Sub(epoch); got != time.Hour {
			t.Errorf("the clock moved %v, want the await's timeout, 1h", got)
		}
	})
	t.Run("manual clock", func(t *testing.T) {
		clock, bus := runtime.NewFakeClock(epoch), runtime.NewMemoryBus()
		run, err := flow(clock, bus).Start(context.Background(), order{OrderID: "o-1"})
		if err != nil {
			t.Fatal(err)
		}
		clock.BlockUntil(1) // the await's deadline: the run waits
		if err := bus.Publish(context.Background(), "payments", "paid", paid); err != nil {
			t.Fatal(err)
		}
		if res, err := run.Wait(context.Background()); err != nil || res.State.Route != "OnTime" {
			t.Fatalf("route %q, %v; want OnTime", res.State.Route, err)
		}
	})
}
