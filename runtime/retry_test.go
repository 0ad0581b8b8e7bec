package runtime_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
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
		clock := runtime.NewAutoClock(epoch)
		f := runtime.New[state]("deadline", runtime.WithClock(clock), runtime.WithSink(sink))
		mustRegister(t, f, runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 3}), runtime.WithDeadline[state](time.Second)))
		run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
		if err != nil {
			t.Fatal(err)
		}
		clock.BlockUntil(1) // the deadline's timer: an AutoClock fires it only on Advance
		clock.Advance(time.Second)
		if res, _ := run.Wait(context.Background()); res.Final != runtime.StateFailed {
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

// TestBackoffDefaults: before attempt n+1 the sleep's ceiling is
// min(Max, Initial·Multiplier^(n-1)); Multiplier 0 means 2, Max 0 no cap,
// Initial 0 no sleep.
func TestBackoffDefaults(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		p    runtime.RetryPolicy
		want []time.Duration // after failed attempts 1, 2, 3, 4
	}{
		{runtime.RetryPolicy{Initial: 100 * ms}, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms}},
		{runtime.RetryPolicy{Initial: 100 * ms, Multiplier: 3}, []time.Duration{100 * ms, 300 * ms, 900 * ms, 2700 * ms}},
		{runtime.RetryPolicy{Initial: 100 * ms, Max: 250 * ms}, []time.Duration{100 * ms, 200 * ms, 250 * ms, 250 * ms}},
		{runtime.RetryPolicy{Initial: 100 * ms, Multiplier: 1.5}, []time.Duration{100 * ms, 150 * ms, 225 * ms, 337500 * time.Microsecond}},
		{runtime.RetryPolicy{Max: time.Second}, []time.Duration{0, 0, 0, 0}},
	} {
		var got []time.Duration
		for failed := 1; failed <= 4; failed++ {
			got = append(got, runtime.BackoffCeiling(c.p, failed))
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", c.p, diff)
		}
	}
}

// TestPanicsAreRetriedErrors: a panic in a step (on the run's goroutine, or
// on its own with a timeout), in a publication or in a rollback is a
// *PanicError, retried like any error, never a crash.
func TestPanicsAreRetriedErrors(t *testing.T) {
	once := func(rec *recorder, op string, ctx context.Context) {
		rec.add(op, ctx)
		if runtime.Attempt(ctx) == 1 {
			panic(op + " panicked")
		}
	}
	retry := runtime.RetryPolicy{Attempts: 2}
	for _, timeout := range []time.Duration{0, time.Hour} {
		rec := newRecorder()
		sink := runtime.NewMemorySink()
		pub := &panickyPublisher{}
		f := runtime.New[state]("panics", runtime.WithSink(sink), runtime.WithPublisher(pub))
		mustRegister(t, f,
			runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				once(rec, "exec A", ctx)
				return "", nil
			}, runtime.WithTimeout[state](timeout), runtime.WithRetry[state](retry),
				runtime.WithRollback(func(ctx context.Context, s *state) error {
					once(rec, "undo A", ctx)
					return nil
				}), runtime.WithRollbackTimeout[state](timeout), runtime.WithRollbackRetry[state](retry)),
			runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				rec.add("exec B", ctx)
				return "", nil
			}, runtime.WithTimeout[state](timeout), runtime.WithRetry[state](retry),
				runtime.WithPublish[state]("t", "e", nil)),
			failingStep(rec, "C", -1, runtime.Permanent(errBoom)))
		res, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r"))
		if res.Final != runtime.StateCompensated || !errors.Is(err, errBoom) {
			t.Fatalf("timeout %v: ended %s, %v; want compensated by C", timeout, res.Final, err)
		}
		want := []string{"exec A", "exec A", "exec B", "exec B", "exec C", "undo A", "undo A"}
		if diff := cmp.Diff(want, rec.all()); diff != "" {
			t.Errorf("timeout %v: effects (-want +got):\n%s", timeout, diff)
		}
		var panics []string
		for _, e := range sink.History("r") {
			if e.Outcome == runtime.OutcomeRetry {
				if !strings.Contains(e.Error, "panic") || !strings.Contains(e.Error, "goroutine") {
					t.Errorf("timeout %v: retry event error %q: want the panic with its stack", timeout, e.Error)
				}
				panics = append(panics, e.From)
			}
		}
		if diff := cmp.Diff([]string{"A:running", "B:running", "A:rollback"}, panics); diff != "" {
			t.Errorf("timeout %v: retried panics (-want +got):\n%s", timeout, diff)
		}
	}
}

// panickyPublisher panics on its first Publish and publishes afterwards.
type panickyPublisher struct {
	mu        sync.Mutex
	calls     int
	published int
}

func (p *panickyPublisher) Publish(ctx context.Context, topic, event string, payload any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.calls == 1 {
		panic("publisher panicked")
	}
	p.published++
	return nil
}

// TestPublicationFailureRetriesTheAttempt: a publication that fails fails
// its attempt, which is retried with it (Exec included): at least once
// delivery; the failed attempt's change to the state is discarded.
func TestPublicationFailureRetriesTheAttempt(t *testing.T) {
	rec := newRecorder()
	sink := runtime.NewMemorySink()
	down := errors.New("broker down")
	var published []any
	pub := publisherFunc(func(ctx context.Context, topic, event string, payload any) error {
		if runtime.Attempt(ctx) == 1 {
			return down
		}
		published = append(published, payload)
		return nil
	})
	f := runtime.New[state]("pub", runtime.WithSink(sink), runtime.WithPublisher(pub))
	mustRegister(t, f, runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
		rec.add("exec A", ctx)
		s.N += 10
		return "", nil
	}, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 2}),
		runtime.WithPublish("billing", "created", func(s *state) any { return s.N })))
	res, err := f.Execute(context.Background(), state{N: 1}, runtime.WithRunID("r"))
	if err != nil || res.State.N != 11 {
		t.Fatalf("ended %+v, %v; want done with N 11", res, err)
	}
	if got := rec.count("exec A"); got != 2 {
		t.Errorf("A ran %d times, want 2 (the publication's failure retried the attempt)", got)
	}
	if diff := cmp.Diff([]any{11}, published); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	retries := eventsTo(sink.History("r"), "A:running")[1:]
	if len(retries) != 1 || retries[0].Outcome != runtime.OutcomeRetry || !strings.Contains(retries[0].Error, "broker down") {
		t.Errorf("retry events %+v, want one naming the publication's error", retries)
	}
}

type publisherFunc func(ctx context.Context, topic, event string, payload any) error

func (f publisherFunc) Publish(ctx context.Context, topic, event string, payload any) error {
	return f(ctx, topic, event, payload)
}

// TestTimeoutIsAContextDeadline: on the wall clock, an attempt's timeout
// is its context's deadline, so clients that honour deadlines see it.
func TestTimeoutIsAContextDeadline(t *testing.T) {
	var deadline time.Time
	var ok bool
	f := runtime.New[state]("deadline")
	mustRegister(t, f, runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
		deadline, ok = ctx.Deadline()
		return "", nil
	}, runtime.WithTimeout[state](time.Hour)))
	before := time.Now()
	if _, err := f.Execute(context.Background(), state{}); err != nil {
		t.Fatal(err)
	}
	if !ok || deadline.Before(before.Add(time.Hour)) || deadline.After(time.Now().Add(time.Hour)) {
		t.Errorf("attempt deadline %v (set %v), want the attempt's start + 1h", deadline, ok)
	}
}

// TestAbortWaitsForAStepWithoutTimeout: an abort waits for a step with no
// timeout that ignores its context, and a step that then succeeds completed:
// it is rolled back with the others.
func TestAbortWaitsForAStepWithoutTimeout(t *testing.T) {
	rec := newRecorder()
	sink := runtime.NewMemorySink()
	started, release := make(chan struct{}), make(chan struct{})
	undo := func(id string) runtime.StepOption[state] {
		return runtime.WithRollback(func(ctx context.Context, s *state) error { rec.add("undo "+id, ctx); return nil })
	}
	f := runtime.New[state]("abortwait", runtime.WithSink(sink))
	mustRegister(t, f, okStep(rec, "A", undo("A")),
		runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			close(started)
			<-release // ignores ctx
			rec.add("exec B", ctx)
			return "", nil
		}, undo("B")),
		okStep(rec, "C", undo("C")))
	run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := run.Abort(); err != nil {
		t.Fatal(err)
	}
	close(release)
	if res, _ := run.Wait(context.Background()); res.Final != runtime.StateAborted {
		t.Fatalf("ended %s, want aborted", res.Final)
	}
	if diff := cmp.Diff([]string{"exec A", "exec B", "undo B", "undo A"}, rec.all()); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	if abort := eventsTo(sink.History("r"), runtime.MachineAborting)[0]; abort.From != "B:running" || abort.Outcome != runtime.OutcomeOK || abort.Interrupted() {
		t.Errorf("abort event %+v, want B completing into aborting", abort)
	}
}
