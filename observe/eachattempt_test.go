package observe_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// A step whose every attempt waits (runtime.Await.EachAttempt): its retry
// is counted once in flowgen_retries_total, goes back to waiting (a second
// wait span, since the retry's event, ended "woken" by the event as the
// first was), and flowgen_runs_waiting is back to 0 once the run is done;
// an abort in the backoff after the retry ends that wait "aborted", and
// the gauge is back to 0 as well.
func TestEachAttemptWaits(t *testing.T) {
	tel, exp, _ := traced(t)
	clock, bus := runtime.NewFakeClock(gateStart), runtime.NewMemoryBus()
	f := runtime.New[gatedState]("EachObs", runtime.WithObserver(tel), runtime.WithClock(clock), runtime.WithSubscriber(bus), runtime.WithSink(runtime.NewMemorySink()))
	pay := runtime.NewStep("Pay", func(ctx context.Context, _ *gatedState) (runtime.Outcome, error) {
		if runtime.Attempt(ctx) == 1 {
			return "", errors.New("card service unavailable")
		}
		return "", nil
	}, runtime.WithRetry[gatedState](runtime.RetryPolicy{Attempts: 3, Initial: time.Minute}), runtime.WithIrreversible[gatedState]())
	pay.Await = &runtime.Await[gatedState]{Topic: "ops", Event: "pay.allowed", Field: "run",
		Correlate: func(s *gatedState) string { return s.ID }, EachAttempt: true}
	if err := f.Register(pay); err != nil {
		t.Fatal(err)
	}
	allow := func(id string) {
		t.Helper()
		if err := bus.Publish(context.Background(), "ops", "pay.allowed", json.RawMessage(`{"run":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}

	r, err := f.Start(context.Background(), gatedState{ID: "o1"}, runtime.WithRunID("o1"))
	if err != nil {
		t.Fatal(err)
	}
	untilWaiting(t, tel, "EachObs", 1)
	allow("o1")
	clock.BlockUntil(1) // the retry's backoff
	clock.Advance(time.Minute)
	untilWaiting(t, tel, "EachObs", 1)
	allow("o1")
	if res, err := r.Wait(context.Background()); res.Final != runtime.StateDone {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	untilWaiting(t, tel, "EachObs", 0)
	if n := sample(telMetrics(t, tel), "flowgen_retries_total", "step", "Pay"); n != 1 {
		t.Errorf("flowgen_retries_total{step=Pay} = %v, want 1", n)
	}
	waits := spansNamed(exp, "wait Pay")
	if len(waits) != 2 || attr(waits[0], "flowgen.outcome") != "woken" || attr(waits[1], "flowgen.outcome") != "woken" || attr(waits[1], "flowgen.topic") != "ops" {
		t.Fatalf("%d wait spans: %+v", len(waits), waits)
	}
	exp.Reset()

	r, err = f.Start(context.Background(), gatedState{ID: "o2"}, runtime.WithRunID("o2"))
	if err != nil {
		t.Fatal(err)
	}
	untilWaiting(t, tel, "EachObs", 1)
	allow("o2")
	clock.BlockUntil(1) // in the retry's backoff
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Wait(context.Background()); res.Final != runtime.StateAborted {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	untilWaiting(t, tel, "EachObs", 0)
	waits = spansNamed(exp, "wait Pay")
	if len(waits) != 2 || attr(waits[1], "flowgen.outcome") != "aborted" {
		t.Fatalf("%d wait spans after the abort: %+v", len(waits), waits)
	}
}
