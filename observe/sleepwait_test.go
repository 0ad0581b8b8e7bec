package observe_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// TestSleepWaitSaysWhenItWakes: a sleep's wait span carries when the
// sleep wakes (flowgen.until), as the run's status ("wait": {"until"})
// and the web view ("wakes at") say it. A sleep has no topic, event,
// child or deadline, so without it the span of a sleep said neither what
// it waited for nor until when: one an abort or a stop cut short (a 336h
// reminder, say) least of all.
func TestSleepWaitSaysWhenItWakes(t *testing.T) {
	tel, exp, _ := traced(t)
	start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := runtime.NewFakeClock(start)
	f := runtime.New[resumeState]("Remind", runtime.WithObserver(tel), runtime.WithClock(clock))
	if err := f.Register(runtime.NewSleep[resumeState]("Nap", 336*time.Hour, nil)); err != nil {
		t.Fatal(err)
	}
	r, err := f.Start(context.Background(), resumeState{})
	if err != nil {
		t.Fatal(err)
	}
	untilMachine(r, "Nap:waiting")
	clock.Advance(336 * time.Hour)
	if res, err := r.Wait(context.Background()); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("run ended %s: %v, want done", res.Final, err)
	}
	nap := oneSpan(t, exp, "wait Nap")
	if got, want := attr(nap, "flowgen.until"), start.Add(336*time.Hour).Format(time.RFC3339Nano); got != want {
		t.Errorf("wait Nap's flowgen.until = %q, want %q", got, want)
	}
	if got := attr(nap, "flowgen.deadline"); got != "" {
		t.Errorf("wait Nap's flowgen.deadline = %q: a sleep has no timeout", got)
	}
}
