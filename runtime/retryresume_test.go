package runtime_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// attemptTimes notes the flow's time at which each attempt of a step ran.
type attemptTimes struct {
	mu sync.Mutex
	at []time.Time
}

func (a *attemptTimes) add(t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at = append(a.at, t)
}

func (a *attemptTimes) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.at)
}

// backoffFlow is a flow of one step A whose first attempt fails with
// errBoom and is retried under p.
func backoffFlow(t *testing.T, clock *runtime.FakeClock, sink *runtime.MemorySink, p runtime.RetryPolicy, ran *attemptTimes) *runtime.Flow[state] {
	f := runtime.New[state]("backoff", runtime.WithClock(clock), runtime.WithSink(sink))
	mustRegister(t, f, runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
		ran.add(clock.Now())
		if runtime.Attempt(ctx) == 1 {
			return "", errBoom
		}
		return runtime.OutcomeOK, nil
	}, runtime.WithRetry[state](p)))
	return f
}

// stopInBackoff starts run r of f and suspends it (its process stops) once
// the retry of its first attempt is recorded; it returns that retry.
func stopInBackoff(t *testing.T, f *runtime.Flow[state], sink *runtime.MemorySink) runtime.Event {
	t.Helper()
	run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return len(sink.History("r")) == 2 })
	if err := run.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := run.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("suspended in the backoff: %v", err)
	}
	h := sink.History("r")
	if len(h) != 2 || h[1].Outcome != runtime.OutcomeRetry {
		t.Fatalf("history:\n%s", strings.Join(transitions(h), "\n"))
	}
	return h[1]
}

// backingOff waits until a resumed run is in its backoff (its timer set on
// clock) and fails the test if it ran the attempt (ran) at once instead.
func backingOff(t *testing.T, clock *runtime.FakeClock, ran func() bool) {
	t.Helper()
	waitUntil(t, func() bool { return clock.Pending() > 0 || ran() })
	if ran() {
		t.Fatal("the resumed run ran its next attempt at once, not after the backoff its retry recorded")
	}
}

// resumeInBackoff resumes run r of backoffFlow from sink in a new flow
// (a new process), and waits until it is in the backoff its retry
// recorded; ran has the attempts it runs from then.
func resumeInBackoff(t *testing.T, clock *runtime.FakeClock, sink *runtime.MemorySink, p runtime.RetryPolicy) (f *runtime.Flow[state], r *runtime.Run[state], ran *attemptTimes) {
	t.Helper()
	ran = &attemptTimes{}
	f = backoffFlow(t, clock, sink, p, ran)
	r, err := f.Resume(context.Background(), sink.History("r"))
	if err != nil {
		t.Fatal(err)
	}
	backingOff(t, clock, func() bool { return len(ran.times()) > 0 })
	return f, r, ran
}

// A step's retry records when its next attempt may start (Event.RetryAt,
// the backoff drawn, jitter included); a run resumed during the backoff
// (its process stopped, and was down for a while) waits out what is left
// of it, on the flow's clock, and runs the attempt then, not at once.
func TestRetryBackoffSurvivesResume(t *testing.T) {
	for _, jitter := range []bool{false, true} {
		name := "fixed"
		if jitter {
			name = "jitter"
		}
		t.Run(name, func(t *testing.T) {
			p := runtime.RetryPolicy{Attempts: 3, Initial: 20 * time.Second, Jitter: jitter}
			clock, sink := runtime.NewFakeClock(epoch), runtime.NewMemorySink()
			retry := stopInBackoff(t, backoffFlow(t, clock, sink, p, &attemptTimes{}), sink)
			switch {
			case !jitter && !retry.RetryAt.Equal(epoch.Add(20*time.Second)):
				t.Fatalf("retry at %v, want 20s after %v", retry.RetryAt, epoch)
			case jitter && (!retry.RetryAt.After(epoch) || retry.RetryAt.After(epoch.Add(20*time.Second))):
				t.Fatalf("retry at %v, want within 20s after %v", retry.RetryAt, epoch)
			}
			if !jitter {
				clock.Advance(5 * time.Second) // the process is down a while
			}

			f, r, ran := resumeInBackoff(t, clock, sink, p)
			// The resumed run says, as the stopped one's history does,
			// when its next attempt starts.
			if st := r.Status(); !st.Retrying || !st.RetryAt.Equal(retry.RetryAt) {
				t.Fatalf("resumed in the backoff: retrying %v at %v, want at %v", st.Retrying, st.RetryAt, retry.RetryAt)
			}
			clock.Advance(retry.RetryAt.Sub(clock.Now()))
			if res, err := r.Wait(context.Background()); err != nil || res.Final != runtime.StateDone {
				t.Fatalf("resumed: %s, %v", res.Final, err)
			}
			if got := ran.times(); len(got) != 1 || !got[0].Equal(retry.RetryAt) {
				t.Fatalf("attempt 2 ran at %v, want once at %v", got, retry.RetryAt)
			}
			h, err := f.History(context.Background(), "r")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.CheckHistory(h); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// An abort during the backoff of a resumed run ends it as one during a
// live backoff: aborting, no attempt ended (Attempt 0), the attempt never
// run.
func TestRetryBackoffResumedAbort(t *testing.T) {
	p := runtime.RetryPolicy{Attempts: 3, Initial: 20 * time.Second}
	clock, sink := runtime.NewFakeClock(epoch), runtime.NewMemorySink()
	stopInBackoff(t, backoffFlow(t, clock, sink, p, &attemptTimes{}), sink)
	_, r, ran := resumeInBackoff(t, clock, sink, p)
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.Wait(context.Background()); res.Final != runtime.StateAborted {
		t.Fatalf("final %s, want aborted", res.Final)
	}
	h := sink.History("r")
	if last := h[2]; last.From != "A:running" || last.To != runtime.MachineAborting || last.Attempt != 0 || !last.Interrupted() {
		t.Fatalf("abort in the backoff recorded as %v", last)
	}
	if n := len(ran.times()); n != 0 {
		t.Fatalf("A ran %d times after the resume, want none", n)
	}
}

// A history recorded before retries recorded their time (no RetryAt)
// resumes as it did: the next attempt runs at once.
func TestRetryWithoutTimeResumesAtOnce(t *testing.T) {
	p := runtime.RetryPolicy{Attempts: 3, Initial: 20 * time.Second}
	clock, sink := runtime.NewFakeClock(epoch), runtime.NewMemorySink()
	stopInBackoff(t, backoffFlow(t, clock, sink, p, &attemptTimes{}), sink)
	old := runtime.NewMemorySink()
	h := sink.History("r")
	for _, e := range h {
		e.RetryAt = time.Time{}
		if err := old.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	ran := &attemptTimes{}
	r, err := backoffFlow(t, clock, old, p, ran).Resume(context.Background(), old.History("r"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r.Wait(context.Background()); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("resumed: %s, %v", res.Final, err)
	}
	if got := ran.times(); len(got) != 1 || !got[0].Equal(epoch) {
		t.Fatalf("attempt 2 ran at %v, want at once (%v)", got, epoch)
	}
}

// A branch of a parallel block resumed in the backoff of its retry waits
// out what is left of it, as a step does.
func TestBranchRetryBackoffSurvivesResume(t *testing.T) {
	clock, sink := runtime.NewFakeClock(epoch), runtime.NewMemorySink()
	build := func(ran *attemptTimes) *runtime.Flow[pstate] {
		f := runtime.New[pstate]("par", runtime.WithClock(clock), runtime.WithSink(sink))
		mustRegisterP(t, f, runtime.NewParallel("P", []*runtime.Step[pstate]{
			runtime.NewStep("X", func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
				ran.add(clock.Now())
				if runtime.Attempt(ctx) == 1 {
					return "", errBoom
				}
				return runtime.OutcomeOK, nil
			}, runtime.WithRetry[pstate](runtime.RetryPolicy{Attempts: 3, Initial: 20 * time.Second})),
			runtime.NewStep("Y", func(ctx context.Context, s *pstate) (runtime.Outcome, error) {
				return runtime.OutcomeOK, nil
			}),
		}))
		return f
	}
	run, err := build(&attemptTimes{}).Start(context.Background(), pstate{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	retried := func(e runtime.Event) bool { return e.Branch == "X" && e.Outcome == runtime.OutcomeRetry }
	yEnded := func(e runtime.Event) bool { return e.Branch == "Y" && e.To == runtime.ParallelState("P") }
	waitUntil(t, func() bool {
		h := sink.History("r")
		return slices.ContainsFunc(h, retried) && slices.ContainsFunc(h, yEnded)
	})
	if err := run.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := run.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("suspended in the backoff: %v", err)
	}
	h := sink.History("r")
	retry := h[slices.IndexFunc(h, retried)]
	if !retry.RetryAt.Equal(epoch.Add(20 * time.Second)) {
		t.Fatalf("branch retry at %v, want 20s after %v", retry.RetryAt, epoch)
	}
	ran := &attemptTimes{}
	f := build(ran)
	r, err := f.Resume(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	backingOff(t, clock, func() bool { return len(ran.times()) > 0 })
	if b := r.Status().Branches; len(b) != 2 || b[0].Step != "X" || !b[0].RetryAt.Equal(retry.RetryAt) || !b[1].RetryAt.IsZero() {
		t.Fatalf("resumed in X's backoff, the branches: %+v; want X's retry at %v", b, retry.RetryAt)
	}
	clock.Advance(20 * time.Second)
	if res, err := r.Wait(context.Background()); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("resumed: %s, %v", res.Final, err)
	}
	if got := ran.times(); len(got) != 1 || !got[0].Equal(retry.RetryAt) {
		t.Fatalf("X's attempt 2 ran at %v, want once at %v", got, retry.RetryAt)
	}
	if b := r.Status().Branches; len(b) != 2 || !b[0].RetryAt.IsZero() {
		t.Fatalf("X's retry over, the branches: %+v; want no retry time", b)
	}
	checkParallelHistory(t, f, "r")
}
