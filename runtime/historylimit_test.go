package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// loopFlow is Reserve (undone by Release), then Poll and Check jumping
// back and forth forever with no wait between them.
func loopFlow(t *testing.T, released *atomic.Int32, opts ...runtime.Option) *runtime.Flow[benchState] {
	t.Helper()
	f := runtime.New[benchState]("loop", opts...)
	noop := func(_ context.Context, s *benchState) (runtime.Outcome, error) {
		s.Count++
		return runtime.OutcomeOK, nil
	}
	err := f.Register(
		runtime.NewStep("Reserve", noop, runtime.WithRollback(func(context.Context, *benchState) error { released.Add(1); return nil })),
		runtime.NewStep("Poll", noop),
		runtime.NewStep("Check", noop, runtime.WithNext[benchState](runtime.OutcomeOK, "Poll")),
	)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A run whose history reaches its bound fails with ErrHistoryLimit at the
// step it was about to run, and is compensated: its history stops growing
// at the bound plus the compensation's events.
func TestHistoryLimit(t *testing.T) {
	var released atomic.Int32
	sink := runtime.NewMemorySink()
	f := loopFlow(t, &released, runtime.WithSink(sink), runtime.WithMaxHistory(50))
	res, err := f.Execute(context.Background(), benchState{ID: "x"})
	if !errors.Is(err, runtime.ErrHistoryLimit) || res.Final != runtime.StateCompensated {
		t.Fatalf("Execute: %v, %s; want compensated with ErrHistoryLimit", err, res.Final)
	}
	if !strings.Contains(err.Error(), `50 events recorded, the bound of flow "loop" is 50`) {
		t.Errorf("error %q does not say the bound", err)
	}
	if released.Load() != 1 {
		t.Errorf("Reserve rolled back %d times, want 1", released.Load())
	}
	h := sink.History(res.RunID)
	// 50 events, the failure, the rollback (in and out) and the end.
	if len(h) != 54 {
		t.Errorf("%d events, want 54", len(h))
	}
	fail := h[50]
	if fail.From != runtime.RunningState("Poll") && fail.From != runtime.RunningState("Check") || fail.To != runtime.MachineFailing ||
		fail.Outcome != runtime.OutcomeError || !strings.Contains(fail.Error, "history limit") {
		t.Errorf("event 51: %+v", fail)
	}
	if err := f.CheckHistory(h); err != nil {
		t.Errorf("CheckHistory: %v", err)
	}
}

// Without WithMaxHistory (or with n <= 0) the bound is DefaultMaxHistory.
func TestHistoryLimitDefault(t *testing.T) {
	for _, opts := range [][]runtime.Option{nil, {runtime.WithMaxHistory(0)}} {
		var released atomic.Int32
		sink := runtime.NewMemorySink()
		f := loopFlow(t, &released, append(opts, runtime.WithSink(sink))...)
		res, err := f.Execute(context.Background(), benchState{ID: "x"})
		if !errors.Is(err, runtime.ErrHistoryLimit) || res.Final != runtime.StateCompensated {
			t.Fatalf("Execute: %v, %s", err, res.Final)
		}
		if n := len(sink.History(res.RunID)); n != runtime.DefaultMaxHistory+4 {
			t.Errorf("%d events, want %d", n, runtime.DefaultMaxHistory+4)
		}
	}
}

// A branch of a parallel block whose policy allows more retries than the
// history has room for stops at the bound as a step does: its retry is
// recorded, its next attempt does not run, and the branch fails with
// ErrHistoryLimit; the block fails with it, cancelling the other branch,
// and the run is compensated. Before, branches did not check the bound,
// and this run recorded its 10,000 attempts.
func TestHistoryLimitBranchRetries(t *testing.T) {
	const bound = 40
	var released atomic.Int32
	var attempts atomic.Int32
	sink := runtime.NewMemorySink()
	f := runtime.New[benchState]("branch-retries", runtime.WithSink(sink), runtime.WithMaxHistory(bound))
	block := runtime.NewParallel("Block", []*runtime.Step[benchState]{
		runtime.NewStep("Flaky", func(context.Context, *benchState) (runtime.Outcome, error) {
			attempts.Add(1)
			return "", errors.New("still down")
		}, runtime.WithRetry[benchState](runtime.RetryPolicy{Attempts: 10_000}), runtime.WithIrreversible[benchState]()),
		runtime.NewStep("Waits", func(ctx context.Context, _ *benchState) (runtime.Outcome, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}, runtime.WithIrreversible[benchState]()),
	})
	err := f.Register(
		runtime.NewStep("Reserve", func(context.Context, *benchState) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(context.Context, *benchState) error { released.Add(1); return nil })),
		block)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Execute(context.Background(), benchState{ID: "x"})
	if !errors.Is(err, runtime.ErrHistoryLimit) || res.Final != runtime.StateCompensated {
		t.Fatalf("Execute: %v, %s; want compensated with ErrHistoryLimit", err, res.Final)
	}
	if released.Load() != 1 {
		t.Errorf("Reserve rolled back %d times, want 1", released.Load())
	}
	h := sink.History(res.RunID)
	if n := attempts.Load(); int(n) >= bound {
		t.Errorf("Flaky ran %d attempts with a bound of %d events", n, bound)
	}
	// Past the bound: the branch's failure, the other branch's
	// cancellation, the block's failure, the rollback (in and out), the end.
	if len(h) > bound+6 {
		t.Errorf("%d events, beyond the bound %d and the compensation's", len(h), bound)
	}
	var ended *runtime.Event
	for i := range h {
		if h[i].Step == "Flaky" && h[i].Outcome == runtime.OutcomeError {
			ended = &h[i]
		}
	}
	if ended == nil || !strings.Contains(ended.Error, "history limit") || ended.Seq <= bound || ended.Attempt != int(attempts.Load())+1 {
		t.Errorf("Flaky's end: %+v; want it after the bound, at the attempt after its last, with the history limit", ended)
	}
	if err := f.CheckHistory(h); err != nil {
		t.Errorf("CheckHistory: %v", err)
	}
}

// A run that goes past its bound says which bound: a sleep entered with
// one event to spare wakes with one more than the bound recorded, and the
// error gave that count as "the bound of flow", as if it were the bound.
func TestHistoryLimitPastTheBoundNamesIt(t *testing.T) {
	f := runtime.New[benchState]("sleeploop", runtime.WithMaxHistory(20),
		runtime.WithClock(runtime.NewAutoClock(time.Unix(0, 0).UTC())))
	err := f.Register(
		runtime.NewStep("Start", func(context.Context, *benchState) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }),
		runtime.NewSleep[benchState]("Poll", time.Second, nil),
		runtime.NewStep("Check", func(context.Context, *benchState) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
			runtime.WithNext[benchState](runtime.OutcomeOK, "Poll")),
	)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Execute(context.Background(), benchState{ID: "x"})
	if !errors.Is(err, runtime.ErrHistoryLimit) {
		t.Fatalf("Execute: %v; want ErrHistoryLimit", err)
	}
	if !strings.Contains(err.Error(), "21 events recorded") || !strings.Contains(err.Error(), `the bound of flow "sleeploop" is 20`) {
		t.Errorf("error %q does not say the count and the bound", err)
	}
}
