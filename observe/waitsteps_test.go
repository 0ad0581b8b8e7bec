package observe_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
)

type waitsState struct {
	Payment map[string]any
	Child   childState
}

type childState struct{ Worked bool }

// TestStepDurationLeavesOutTheWait pins what docs/observability.md says
// flowgen_step_duration_seconds measures of a step that waits: the attempt
// that runs once the wait is over (decoding the event, the code after a
// sleep, copying a child run's final state), never the wait itself, which
// the wait span covers; a wait with nothing to run after it records no
// sample.
func TestStepDurationLeavesOutTheWait(t *testing.T) {
	const held = 400 * time.Millisecond // how long each wait lasts at least
	tel, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bus := runtime.NewMemoryBus()
	child := runtime.New[childState]("Child", runtime.WithObserver(tel))
	if err := child.Register(runtime.NewStep("Work", func(context.Context, *childState) (runtime.Outcome, error) {
		time.Sleep(held)
		return "", nil
	})); err != nil {
		t.Fatal(err)
	}
	f := runtime.New[waitsState]("Waits", runtime.WithSubscriber(bus), runtime.WithObserver(tel))
	if err := f.Register(
		runtime.NewAwait("payments", "paid", func(s *waitsState) any { return &s.Payment }, nil, 0, runtime.WithID[waitsState]("Paid")),
		runtime.NewAwait[waitsState]("payments", "bare", nil, nil, 0, runtime.WithID[waitsState]("Bare")),
		runtime.NewSleep[waitsState]("Nap", held, nil),
		runtime.NewSleep("Remind", held, func(context.Context, *waitsState) (runtime.Outcome, error) { return "", nil }),
		runtime.NewCall("Sub", child, nil, func(s *waitsState) *childState { return &s.Child }),
	); err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(context.Background(), "payments", "bare", nil); err != nil { // kept until Bare waits
		t.Fatal(err)
	}
	r, err := f.Start(context.Background(), waitsState{})
	if err != nil {
		t.Fatal(err)
	}
	untilMachine(r, "Paid:waiting")
	time.Sleep(held)
	if err := bus.Publish(context.Background(), "payments", "paid", map[string]any{"amount": 42}); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Wait(context.Background()); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("run ended %s: %v", res.Final, err)
	}

	steps := stepDurations(t, tel)
	for _, step := range []string{"Paid", "Remind", "Sub"} {
		d, ok := steps[step]
		if !ok || d.count != 1 || d.sum >= held.Seconds()/2 {
			t.Errorf("step %s: %d samples, %.3fs in all: want one, shorter than its wait (%v)", step, d.count, d.sum, held)
		}
	}
	for _, step := range []string{"Bare", "Nap"} {
		if d, ok := steps[step]; ok {
			t.Errorf("step %s, a wait with nothing after it: %d samples, want none", step, d.count)
		}
	}
	if d := steps["Work"]; d.count != 1 || d.sum < held.Seconds() {
		t.Errorf("the child's step: %d samples, %.3fs: want one of at least %v", d.count, d.sum, held)
	}
}

type histogram struct {
	count uint64
	sum   float64
}

// stepDurations reads flowgen_step_duration_seconds from tel's metrics, by
// step.
func stepDurations(t *testing.T, tel *observe.Telemetry) map[string]histogram {
	t.Helper()
	out := map[string]histogram{}
	for _, m := range telMetrics(t, tel)["flowgen_step_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "step" {
				h := out[l.GetValue()]
				h.count += m.GetHistogram().GetSampleCount()
				h.sum += m.GetHistogram().GetSampleSum()
				out[l.GetValue()] = h
			}
		}
	}
	return out
}
