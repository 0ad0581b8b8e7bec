package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// newBackoffPay is a flow whose one step Pay fails its first attempt and
// is retried after an hour's backoff; ran notes the flow's time of each
// attempt.
func newBackoffPay(t *testing.T, sink runtime.Sink, clock *runtime.FakeClock, mu *sync.Mutex, ran *[]time.Time) *runtime.Flow[payState] {
	t.Helper()
	f := runtime.New[payState]("BackoffPay", runtime.WithSink(sink), runtime.WithClock(clock))
	pay := runtime.NewStep("Pay", func(ctx context.Context, s *payState) (runtime.Outcome, error) {
		mu.Lock()
		defer mu.Unlock()
		*ran = append(*ran, clock.Now())
		if runtime.Attempt(ctx) == 1 {
			return "", errors.New("card service unavailable")
		}
		return "", nil
	}, runtime.WithRetry[payState](runtime.RetryPolicy{Attempts: 2, Initial: time.Hour}), runtime.WithIrreversible[payState]())
	if err := f.Register(pay); err != nil {
		t.Fatal(err)
	}
	return f
}

// A retry's backoff survives the process on the durable store: the
// retry's record keeps when the next attempt may start (Event.RetryAt),
// and a new process that resumes the run during the backoff waits out
// what is left of it rather than running the attempt at once. The store's
// codec dropped the field (its records had no place for it), so a
// restarted flowgen serve retried every run at once.
func TestRetryBackoffSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := runtime.NewFakeClock(start)
	var mu sync.Mutex
	var ran []time.Time
	f := newBackoffPay(t, s, clock, &mu, &ran)
	run, err := f.Start(context.Background(), payState{ID: "p-1"}, runtime.WithRunID("p-1"))
	if err != nil {
		t.Fatal(err)
	}
	waitUntilStore(t, func() bool { h, err := s.Load("p-1"); return err == nil && len(h) == 2 })
	if err := run.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := run.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("suspended in the backoff: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	h, err := s2.Load("p-1")
	if err != nil || len(h) != 2 || h[1].Outcome != runtime.OutcomeRetry {
		t.Fatalf("history %v (%v)", h, err)
	}
	if want := start.Add(time.Hour); !h[1].RetryAt.Equal(want) {
		t.Fatalf("the reopened store's retry says its attempt may start at %v, want %v", h[1].RetryAt, want)
	}
	clock.Advance(20 * time.Minute) // the process was down 20 minutes
	f2 := newBackoffPay(t, s2, clock, &mu, &ran)
	resumed, err := ResumeAll(context.Background(), f2, s2)
	if err != nil || len(resumed) != 1 {
		t.Fatalf("resumed %d: %v", len(resumed), err)
	}
	attempts := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(ran)
	}
	// In the rest of the backoff (a timer), or past it.
	waitUntilStore(t, func() bool { return clock.Pending() > 0 || attempts() > 1 })
	if n := attempts(); n != 1 {
		t.Fatalf("the resumed run ran attempt 2 at once, %d attempts, not 40 minutes later", n)
	}
	clock.Advance(40 * time.Minute)
	res, err := resumed[0].Wait(context.Background())
	if err != nil || res.Final != runtime.StateDone {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != 2 || !ran[1].Equal(start.Add(time.Hour)) {
		t.Fatalf("attempts at %v, want the second at %v", ran, start.Add(time.Hour))
	}
}
