package runtime_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// abortingClock calls abort on the first Now once armed, and from then on
// tells a time two hours on: the step's deadline has passed.
type abortingClock struct {
	runtime.Clock
	armed   atomic.Bool
	abort   func() error
	aborted atomic.Bool
	err     error
}

func (c *abortingClock) Now() time.Time {
	if c.armed.CompareAndSwap(true, false) {
		c.err = c.abort()
		c.aborted.Store(true)
	}
	now := c.Clock.Now()
	if c.aborted.Load() {
		now = now.Add(2 * time.Hour)
	}
	return now
}

// An abort that comes after the step's last attempt failed, once the run
// has looked for one (the attempt's context was not cancelled) and before
// it records its failure ("-> failing"), is taken: Abort returned nil,
// so the run ends aborted. It rolled back after the failure and ended
// compensated: the abort accepted changed nothing.
func TestAbortBeforeRollbackEntryIsTaken(t *testing.T) {
	clock := &abortingClock{Clock: runtime.RealClock()}
	f := runtime.New[state]("abort-first", runtime.WithClock(clock))
	ready := make(chan struct{})
	var once sync.Once
	mustRegister(t, f,
		runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(context.Context, *state) error { return nil })),
		runtime.NewStep("B", func(context.Context, *state) (runtime.Outcome, error) {
			<-ready
			once.Do(func() { clock.armed.Store(true) }) // the next Now comes after the attempt's look for an abort
			return "", errors.New("declined")           // retryable: the run asks the clock whether time is left
		}, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 2}), runtime.WithDeadline[state](time.Hour)))
	run, err := f.Start(context.Background(), state{})
	if err != nil {
		t.Fatal(err)
	}
	clock.abort = run.AbortUnlessRollingBack
	close(ready)
	res, err := run.Wait(context.Background())
	if !clock.aborted.Load() {
		t.Fatalf("the abort never came (the run ended %s, %v)", res.Final, err)
	}
	if clock.err != nil {
		if !errors.Is(clock.err, runtime.ErrRollingBack) {
			t.Fatalf("the abort: %v", clock.err)
		}
		t.Fatalf("the abort was refused (%v), the run not yet rolling back", clock.err)
	}
	if res.Final != runtime.StateAborted {
		t.Errorf("the abort was taken and the run ended %s (%v), want aborted", res.Final, err)
	}
}

// A run resumed while it rolls back after a failure refuses an abort, as
// it does in the process that recorded the failure: Resume marks it
// rolling back from its history. Without that mark the abort was accepted
// (its request recorded, nil returned) for a rollback that finishes
// compensated whatever happens.
func TestResumedRollbackRefusesAbort(t *testing.T) {
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	define := func(sink runtime.Sink, rollback func(context.Context, *state) error) *runtime.Flow[state] {
		var opts []runtime.Option
		if sink != nil {
			opts = append(opts, runtime.WithSink(sink))
		}
		f := runtime.New[state]("resumed-rollback", opts...)
		mustRegister(t, f,
			runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { return "", nil },
				runtime.WithRollback(rollback)),
			runtime.NewStep("B", func(context.Context, *state) (runtime.Outcome, error) {
				return "", runtime.Permanent(errors.New("declined"))
			}))
		return f
	}
	// A whole run, for the history of one that failed and began its
	// rollback: cut after the event that enters A's rollback.
	sink := runtime.NewMemorySink()
	whole := define(sink, func(context.Context, *state) error { return nil })
	if res, _ := whole.Execute(context.Background(), state{}, runtime.WithRunID("r1")); res.Final != runtime.StateCompensated {
		t.Fatalf("the whole run ended %s, want compensated", res.Final)
	}
	h := sink.History("r1")
	cut := -1
	for i, e := range h {
		if e.To == "A:rollback" {
			cut = i + 1
			break
		}
	}
	if cut < 0 {
		t.Fatalf("no event enters A:rollback in %v", h)
	}
	resumed := define(nil, func(ctx context.Context, _ *state) error {
		entered <- struct{}{}
		select {
		case <-hold:
		case <-ctx.Done():
		}
		return nil
	})
	run, err := resumed.Resume(context.Background(), h[:cut])
	if err != nil {
		t.Fatal(err)
	}
	<-entered // the rollback runs
	if err := run.AbortUnlessRollingBack(); !errors.Is(err, runtime.ErrRollingBack) {
		t.Errorf("AbortUnlessRollingBack of a resumed run rolling back after a failure: %v, want ErrRollingBack", err)
	}
	close(hold)
	if res, _ := run.Wait(context.Background()); res.Final != runtime.StateCompensated {
		t.Errorf("the resumed run ended %s, want compensated", res.Final)
	}
}

// endAborter is a sink that aborts the run as it records the run's end
// ("-> done": the run waits in Emit), and keeps what the abort returned.
type endAborter struct {
	*runtime.MemorySink
	abort func() error
	err   error
	came  bool
}

func (s *endAborter) Emit(ctx context.Context, e runtime.Event) error {
	if e.To == string(runtime.StateDone) {
		s.came = true
		s.err = s.abort()
	}
	return s.MemorySink.Emit(ctx, e)
}

// An abort that comes as the run records "-> done" is refused as
// finished: the run has committed to its end, which the abort would not
// change. It returned nil, the abort taken, and the run ended done.
func TestAbortAsTheRunEndsIsRefused(t *testing.T) {
	for _, name := range []string{"Abort", "AbortUnlessRollingBack"} {
		t.Run(name, func(t *testing.T) {
			sink := &endAborter{MemorySink: runtime.NewMemorySink()}
			f := runtime.New[state]("abort-at-end", runtime.WithSink(sink))
			ready := make(chan struct{})
			mustRegister(t, f,
				runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { <-ready; return "", nil },
					runtime.WithRollback(func(context.Context, *state) error { return nil })))
			run, err := f.Start(context.Background(), state{})
			if err != nil {
				t.Fatal(err)
			}
			sink.abort = run.Abort
			if name == "AbortUnlessRollingBack" {
				sink.abort = run.AbortUnlessRollingBack
			}
			close(ready)
			res, _ := run.Wait(context.Background())
			if !sink.came {
				t.Fatalf("the run ended %s without recording done", res.Final)
			}
			switch {
			case sink.err == nil && res.Final != runtime.StateAborted:
				t.Errorf("the abort was taken (nil) and the run ended %s, not aborted", res.Final)
			case sink.err != nil && !errors.Is(sink.err, runtime.ErrFinished):
				t.Errorf("the abort: %v, want nil or ErrFinished", sink.err)
			}
		})
	}
}
