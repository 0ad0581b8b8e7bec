package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

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
	if !strings.Contains(err.Error(), "50 events recorded") {
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
