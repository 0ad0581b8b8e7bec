package observe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// TestWaitSpanOnRealTime: a flow on a fake clock (its events' times are the
// clock's) still gets a wait span on the real clock, as its run and step
// spans are, so that a trace's spans line up.
func TestWaitSpanOnRealTime(t *testing.T) {
	tel, exp, _ := traced(t)
	clock := runtime.NewFakeClock(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	f := runtime.New[resumeState]("Clocked", runtime.WithSubscriber(runtime.NewMemoryBus()), runtime.WithObserver(tel), runtime.WithClock(clock))
	if err := f.Register(runtime.NewAwait[resumeState]("payments", "paid", nil, nil, 0, runtime.WithID[resumeState]("Paid"))); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	r, err := f.Start(context.Background(), resumeState{})
	if err != nil {
		t.Fatal(err)
	}
	untilMachine(r, "Paid:waiting")
	_ = r.Abort()
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrAborted) {
		t.Fatal(err)
	}
	after := time.Now()
	waits, runs := spansNamed(exp, "wait Paid"), spansNamed(exp, "run Clocked")
	if len(waits) != 1 || len(runs) != 1 {
		t.Fatalf("%d wait spans and %d run spans, want one each", len(waits), len(runs))
	}
	w, run := waits[0], runs[0]
	if w.StartTime.Before(before) || w.EndTime.After(after) || w.StartTime.Before(run.StartTime) || w.EndTime.After(run.EndTime) {
		t.Errorf("wait span %v..%v, run span %v..%v: want both within the real %v..%v", w.StartTime, w.EndTime, run.StartTime, run.EndTime, before, after)
	}
}
