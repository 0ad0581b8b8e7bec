package observe_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/flowgen/flowgen/runtime"
)

// TestAbortedRunIsNotAFailure: a run an abort ends (final aborted) did not
// fail, the abort was asked for: its span ends status unset, with an event
// "aborted" holding the run's error, as the wait and the attempt the abort
// ended do (TestAbortedWaitIsNotAFailure), as flowgen_runs_finished_total
// counts it apart from failed runs (state aborted) and as the web view
// draws it (not red). Before, the run's span alone said Error. A run that
// fails still ends status Error.
func TestAbortedRunIsNotAFailure(t *testing.T) {
	tel, exp, _ := traced(t)
	f := runtime.New[resumeState]("Hold", runtime.WithSubscriber(runtime.NewMemoryBus()), runtime.WithObserver(tel))
	if err := f.Register(runtime.NewAwait[resumeState]("contracts", "signed", nil, nil, 0, runtime.WithID[resumeState]("Signed"))); err != nil {
		t.Fatal(err)
	}
	r, err := f.Start(context.Background(), resumeState{})
	if err != nil {
		t.Fatal(err)
	}
	untilMachine(r, "Signed:waiting")
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrAborted) {
		t.Fatalf("run: %v, want aborted", err)
	}
	run := oneSpan(t, exp, "run Hold")
	if run.Status.Code == codes.Error || attr(run, "flowgen.final") != "aborted" {
		t.Errorf("run Hold, aborted: status %v, final %q; want unset, aborted", run.Status, attr(run, "flowgen.final"))
	}
	if ev := run.Events; len(ev) != 1 || ev[0].Name != "aborted" || len(ev[0].Attributes) != 1 || ev[0].Attributes[0].Key != "flowgen.error" || ev[0].Attributes[0].Value.AsString() == "" {
		t.Errorf("run Hold's events: %+v, want one \"aborted\" with the error (flowgen.error)", ev)
	}

	g := runtime.New[resumeState]("Fail", runtime.WithObserver(tel))
	if err := g.Register(runtime.NewStep("Charge", func(context.Context, *resumeState) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("card declined"))
	}, runtime.WithIrreversible[resumeState]())); err != nil {
		t.Fatal(err)
	}
	if res, _ := g.Execute(context.Background(), resumeState{}); res.Final != runtime.StateFailed {
		t.Fatalf("run Fail ended %s, want failed", res.Final)
	}
	if failed := oneSpan(t, exp, "run Fail"); failed.Status.Code != codes.Error {
		t.Errorf("run Fail, failed: status %v, want Error", failed.Status)
	}
}
