package observe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/flowgen/flowgen/runtime"
)

// TestAbortedWaitIsNotAFailure: a wait an abort ends did not fail, the
// abort was asked for: its span ends outcome aborted with status unset and
// an event "aborted" holding the run's error, as an attempt an abort cuts
// short does (TestAbortedStepIsNotAFailure) and as the web view draws the
// step (not red), with no error.type. A wait that ends by its timeout
// still fails: status Error, error.type timeout.
func TestAbortedWaitIsNotAFailure(t *testing.T) {
	tel, exp, _ := traced(t)
	clock := runtime.NewFakeClock(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	f := runtime.New[resumeState]("Hold", runtime.WithSubscriber(runtime.NewMemoryBus()), runtime.WithObserver(tel), runtime.WithClock(clock))
	if err := f.Register(
		runtime.NewAwait[resumeState]("payments", "paid", nil, nil, time.Hour, runtime.WithID[resumeState]("Paid"),
			runtime.WithNext[resumeState](runtime.OutcomeTimeout, "Signed")),
		runtime.NewAwait[resumeState]("contracts", "signed", nil, nil, 0, runtime.WithID[resumeState]("Signed")),
	); err != nil {
		t.Fatal(err)
	}
	r, err := f.Start(context.Background(), resumeState{})
	if err != nil {
		t.Fatal(err)
	}
	untilMachine(r, "Paid:waiting")
	clock.Advance(time.Hour) // Paid times out, on to Signed
	untilMachine(r, "Signed:waiting")
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrAborted) {
		t.Fatalf("run: %v, want aborted", err)
	}
	paid, signed := oneSpan(t, exp, "wait Paid"), oneSpan(t, exp, "wait Signed")
	if paid.Status.Code != codes.Error || attr(paid, "flowgen.outcome") != "timeout" || attr(paid, "error.type") != "timeout" {
		t.Errorf("wait Paid, ended by its timeout: status %v, outcome %q, error.type %q; want Error, timeout, timeout", paid.Status, attr(paid, "flowgen.outcome"), attr(paid, "error.type"))
	}
	if signed.Status.Code == codes.Error || attr(signed, "flowgen.outcome") != "aborted" || attr(signed, "error.type") != "" {
		t.Errorf("wait Signed, ended by an abort: status %v, outcome %q; want unset, aborted", signed.Status, attr(signed, "flowgen.outcome"))
	}
	if ev := signed.Events; len(ev) != 1 || ev[0].Name != "aborted" || len(ev[0].Attributes) != 1 || ev[0].Attributes[0].Value.AsString() == "" {
		t.Errorf("wait Signed's events: %+v, want one \"aborted\" with the error", ev)
	}
}
