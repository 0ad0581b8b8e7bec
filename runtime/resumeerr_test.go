package runtime_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// A run resumed while it rolls back after a step that timed out ends with
// an error that wraps ErrTimeout, as the run that recorded the timeout
// would have: the error read back from its history is the recorded text,
// and the step's outcome timeout, which says the error was a timeout
// (Outcomes: "timeout if the error wraps ErrTimeout"). Before, it wrapped
// nothing, though its StepError's Outcome said timeout.
func TestResumedTimeoutWrapsErrTimeout(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	build := func(sink runtime.Sink) *runtime.Flow[hibState] {
		f := runtime.New[hibState]("Nap", runtime.WithSink(sink), runtime.WithClock(runtime.NewAutoClock(t0)))
		if err := f.Register(
			runtime.NewStep("Pay", func(ctx context.Context, s *hibState) (runtime.Outcome, error) {
				s.Paid = true
				return "", nil
			}, runtime.WithRollback(func(ctx context.Context, s *hibState) error { return nil })),
			runtime.NewSleep[hibState]("Wait", 2*time.Hour, nil, runtime.WithDeadline[hibState](time.Hour)),
		); err != nil {
			t.Fatal(err)
		}
		return f
	}
	sink := runtime.NewMemorySink()
	res, live := build(sink).Execute(context.Background(), hibState{}, runtime.WithRunID("n-1"))
	if res.Final != runtime.StateCompensated || !errors.Is(live, runtime.ErrTimeout) {
		t.Fatalf("ended %s: %v; want compensated by a timeout", res.Final, live)
	}
	hist := sink.History("n-1")
	cut := slices.IndexFunc(hist, func(e runtime.Event) bool { return e.To == runtime.MachineFailing })
	if cut < 0 {
		t.Fatal("no failing event")
	}
	prefix := hist[:cut+1]
	resumed := runtime.NewMemorySink()
	for _, e := range prefix {
		if err := resumed.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	run, err := build(resumed).Resume(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	res2, err2 := run.Wait(context.Background())
	var se *runtime.StepError
	if res2.Final != runtime.StateCompensated || !errors.As(err2, &se) || se.Outcome != runtime.OutcomeTimeout {
		t.Fatalf("resumed: ended %s: %v", res2.Final, err2)
	}
	if !errors.Is(err2, runtime.ErrTimeout) || err2.Error() != live.Error() {
		t.Errorf("resumed: Result.Err %q does not wrap ErrTimeout (the run that timed out: %q)", err2, live)
	}
}
