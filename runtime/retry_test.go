package runtime_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

func failingStep(rec *recorder, id string, failUntil int, err error, opts ...runtime.StepOption[state]) *runtime.Step[state] {
	return runtime.NewStep(id, func(ctx context.Context, s *state) (runtime.Outcome, error) {
		rec.add("exec "+id, ctx)
		if failUntil < 0 || runtime.Attempt(ctx) <= failUntil {
			return "", err
		}
		return runtime.OutcomeOK, nil
	}, opts...)
}

func TestRetryCountsAndBackoff(t *testing.T) {
	policy := runtime.RetryPolicy{Attempts: 5, Initial: 100 * time.Millisecond, Max: 300 * time.Millisecond, Multiplier: 2}
	t.Run("exhausted", func(t *testing.T) {
		rec := newRecorder()
		clock := &recordingClock{FakeClock: runtime.NewAutoClock(epoch)}
		sink := runtime.NewMemorySink()
		f := runtime.New[state]("retry", runtime.WithClock(clock), runtime.WithSink(sink))
		mustRegister(t, f, failingStep(rec, "A", -1, errBoom, runtime.WithRetry[state](policy)))
		res, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r"))
		if !errors.Is(err, errBoom) || res.Final != runtime.StateFailed {
			t.Fatalf("Execute = %s, %v; want failed with boom", res.Final, err)
		}
		if got := rec.count("exec A"); got != 5 {
			t.Errorf("attempts = %d, want 5", got)
		}
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
		if diff := cmp.Diff(want, clock.recorded()); diff != "" {
			t.Errorf("backoffs (-want +got):\n%s", diff)
		}
		// Four retry events, attempts 1..4, then the failure on attempt 5.
		h := sink.History("r")
		retries := eventsTo(h, "A:running")[1:]
		for i, e := range retries {
			if e.Outcome != runtime.OutcomeRetry || e.Attempt != i+1 || e.Error != "boom" || e.From != "A:running" {
				t.Errorf("retry event %d = %+v", i, e)
			}
		}
		if len(retries) != 4 {
			t.Errorf("%d retry events, want 4", len(retries))
		}
		if last := eventsTo(h, runtime.MachineFailing)[0]; last.Attempt != 5 || last.Outcome != runtime.OutcomeError {
			t.Errorf("failing event = %+v, want attempt 5, outcome error", last)
		}
		// One idempotency key for every attempt.
		keys := rec.key["exec A"]
		if slices.Compact(slices.Clone(keys))[0] != "r/A" || len(slices.Compact(slices.Clone(keys))) != 1 {
			t.Errorf("keys = %q, want r/A for every attempt", keys)
		}
	})
	t.Run("succeeds on attempt 3", func(t *testing.T) {
		rec := newRecorder()
		f := runtime.New[state]("retry", runtime.WithClock(runtime.NewAutoClock(epoch)))
		mustRegister(t, f, failingStep(rec, "A", 2, errBoom, runtime.WithRetry[state](policy)), okStep(rec, "B"))
		res, err := f.Execute(context.Background(), state{})
		if err != nil || res.Final != runtime.StateDone {
			t.Fatalf("Execute = %s, %v", res.Final, err)
		}
		if diff := cmp.Diff([]string{"exec A", "exec A", "exec A", "exec B"}, rec.all()); diff != "" {
			t.Errorf("effects (-want +got):\n%s", diff)
		}
	})
	t.Run("permanent is not retried", func(t *testing.T) {
		rec := newRecorder()
		clock := &recordingClock{FakeClock: runtime.NewAutoClock(epoch)}
		f := runtime.New[state]("retry", runtime.WithClock(clock))
		mustRegister(t, f, okStep(rec, "A"), failingStep(rec, "B", -1, runtime.Permanent(errBoom), runtime.WithRetry[state](policy)))
		res, err := f.Execute(context.Background(), state{})
		if !errors.Is(err, errBoom) || !runtime.IsPermanent(err) || res.Final != runtime.StateCompensated {
			t.Fatalf("Execute = %s, %v", res.Final, err)
		}
		if got := rec.count("exec B"); got != 1 {
			t.Errorf("attempts = %d, want 1", got)
		}
		if got := clock.recorded(); len(got) != 0 {
			t.Errorf("slept %v, want no backoff", got)
		}
	})
	t.Run("no retries by default", func(t *testing.T) {
		rec := newRecorder()
		f := runtime.New[state]("retry")
		mustRegister(t, f, failingStep(rec, "A", -1, errBoom))
		if _, err := f.Execute(context.Background(), state{}); !errors.Is(err, errBoom) || rec.count("exec A") != 1 {
			t.Fatalf("err %v after %d attempts, want boom after 1", err, rec.count("exec A"))
		}
	})
}

// TestJitter checks that full jitter draws every backoff from [0, ceiling]
// and actually varies.
func TestJitter(t *testing.T) {
	policy := runtime.RetryPolicy{Attempts: 6, Initial: 100 * time.Millisecond, Max: time.Second, Jitter: true}
	ceilings := []time.Duration{100, 200, 400, 800, 1000}
	clock := &recordingClock{FakeClock: runtime.NewAutoClock(epoch)}
	f := runtime.New[state]("jitter", runtime.WithClock(clock))
	mustRegister(t, f, failingStep(newRecorder(), "A", -1, errBoom, runtime.WithRetry[state](policy)))
	const runs = 40
	for range runs {
		if _, err := f.Execute(context.Background(), state{}); !errors.Is(err, errBoom) {
			t.Fatal(err)
		}
	}
	got := clock.recorded()
	if len(got) != runs*len(ceilings) {
		t.Fatalf("%d sleeps, want %d", len(got), runs*len(ceilings))
	}
	distinct := map[time.Duration]bool{}
	below := 0
	for i, d := range got {
		ceiling := ceilings[i%len(ceilings)] * time.Millisecond
		if d < 0 || d > ceiling {
			t.Errorf("sleep %d = %v, outside [0, %v]", i, d, ceiling)
		}
		if d < ceiling/2 {
			below++
		}
		distinct[d] = true
	}
	// With 200 uniform draws, all equal or none in the lower half would
	// mean no jitter (probability of a false alarm < 1e-50).
	if len(distinct) < 100 || below == 0 || below == len(got) {
		t.Errorf("%d distinct sleeps, %d in the lower half of %d: not jittered", len(distinct), below, len(got))
	}
}

// TestTimeouts uses a manual fake clock: nothing times out until the test
// moves the clock past the timeout.
func TestTimeouts(t *testing.T) {
	t.Run("attempt times out then succeeds", func(t *testing.T) {
		clock := runtime.NewFakeClock(epoch)
		sink := runtime.NewMemorySink()
		f := runtime.New[state]("timeout", runtime.WithClock(clock), runtime.WithSink(sink))
		started := make(chan int, 2)
		mustRegister(t, f, runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			started <- runtime.Attempt(ctx)
			if runtime.Attempt(ctx) == 1 {
				<-ctx.Done() // honours its context
				return "", ctx.Err()
			}
			s.N = 42
			return runtime.OutcomeOK, nil
		}, runtime.WithTimeout[state](time.Second), runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 2})))
		run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
		if err != nil {
			t.Fatal(err)
		}
		<-started
		clock.BlockUntil(1)
		clock.Advance(time.Second)
		res, err := run.Wait(context.Background())
		if err != nil || res.State.N != 42 {
			t.Fatalf("Wait = %+v, %v", res, err)
		}
		retry := sink.History("r")[1]
		if retry.Outcome != runtime.OutcomeRetry || !strings.Contains(retry.Error, "timeout") {
			t.Errorf("retry event = %+v, want a timeout", retry)
		}
	})
	t.Run("ignoring ctx is abandoned and routed by on timeout", func(t *testing.T) {
		clock := runtime.NewFakeClock(epoch)
		rec := newRecorder()
		release := make(chan struct{})
		defer close(release)
		f := runtime.New[state]("timeout", runtime.WithClock(clock))
		entered := make(chan struct{}, 2)
		mustRegister(t, f,
			runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				rec.add("exec A", ctx)
				entered <- struct{}{}
				<-release // ignores ctx
				s.N = 1   // on its own copy: never seen by the run
				return runtime.OutcomeOK, nil
			}, runtime.WithTimeout[state](time.Second),
				runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 2}),
				runtime.WithNext[state](runtime.OutcomeTimeout, "Fallback")),
			okStep(rec, "B"),
			okStep(rec, "Fallback"))
		run, err := f.Start(context.Background(), state{})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			<-entered
			clock.BlockUntil(1)
			clock.Advance(time.Second)
		}
		res, err := run.Wait(context.Background())
		if err != nil || res.State.N != 0 {
			t.Fatalf("Wait = %+v, %v", res, err)
		}
		if diff := cmp.Diff([]string{"exec A", "exec A", "exec Fallback"}, rec.all()); diff != "" {
			t.Errorf("effects (-want +got):\n%s", diff)
		}
	})
	t.Run("deadline bounds retries", func(t *testing.T) {
		rec := newRecorder()
		// Backoffs (300ms, 600ms) pass at once; attempt timeouts, cut to
		// what is left of the deadline (1s, 700ms, 100ms), stay pending.
		clock := &recordingClock{FakeClock: runtime.NewFakeClock(epoch), fire: func(d time.Duration) bool { return d%(300*time.Millisecond) == 0 }}
		f := runtime.New[state]("deadline", runtime.WithClock(clock))
		mustRegister(t, f, failingStep(rec, "A", -1, errBoom,
			runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 10, Initial: 300 * time.Millisecond}),
			runtime.WithDeadline[state](time.Second)))
		res, err := f.Execute(context.Background(), state{})
		// Attempts at 0, 300ms, 900ms; the next would start at 2.1s.
		if rec.count("exec A") != 3 || !errors.Is(err, runtime.ErrTimeout) || !errors.Is(err, errBoom) {
			t.Fatalf("%d attempts, err %v; want 3 and a timeout wrapping boom", rec.count("exec A"), err)
		}
		var se *runtime.StepError
		if !errors.As(res.Err, &se) || se.Outcome != runtime.OutcomeTimeout {
			t.Errorf("err = %#v, want outcome timeout", res.Err)
		}
		want := []time.Duration{time.Second, 300 * time.Millisecond, 700 * time.Millisecond, 600 * time.Millisecond, 100 * time.Millisecond}
		if diff := cmp.Diff(want, clock.recorded()); diff != "" {
			t.Errorf("timers (-want +got):\n%s", diff)
		}
	})
	t.Run("deadline cuts an attempt", func(t *testing.T) {
		// An attempt still running when the deadline passes is cut there:
		// the step ends timeout with the deadline's error (not the time
		// that was left), on that attempt, and is not retried.
		sink := runtime.NewMemorySink()
		f := runtime.New[state]("deadline", runtime.WithClock(runtime.NewAutoClock(epoch)), runtime.WithSink(sink))
		mustRegister(t, f, runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 3}), runtime.WithDeadline[state](time.Second)))
		if res, _ := f.Execute(context.Background(), state{}, runtime.WithRunID("r")); res.Final != runtime.StateFailed {
			t.Fatalf("ended %s, want failed", res.Final)
		}
		h := sink.History("r")
		if n := len(eventsTo(h, "A:running")); n != 1 {
			t.Errorf("%d events into A:running, want 1 (no retry)", n)
		}
		want := runtime.DeadlinePassed(time.Second).Error()
		if e := eventsTo(h, runtime.MachineFailing); len(e) != 1 || e[0].Attempt != 1 || e[0].Outcome != runtime.OutcomeTimeout || e[0].Error != want {
			t.Errorf("failing events %+v, want attempt 1, outcome timeout, error %q", e, want)
		}
	})
}
