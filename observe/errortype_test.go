package observe_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/flowgen/flowgen/runtime"
)

// declinedError is a step's error of its own type.
type declinedError struct{ code int }

func (e *declinedError) Error() string { return "declined" }

// TestFailedSpansErrorType: every span that ends status Error says its
// error's class in error.type (runtime.ErrorClass), never its text: a
// panicking step "panic", a rollback's error of its own type its Go type,
// the run its cause's class, an error that is only text "_OTHER"; a span
// that did not fail has none.
func TestFailedSpansErrorType(t *testing.T) {
	tel, exp, _ := traced(t)
	f := runtime.New[resumeState]("Broken", runtime.WithObserver(tel))
	if err := f.Register(
		runtime.NewStep("A", func(context.Context, *resumeState) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(context.Context, *resumeState) error { return runtime.Permanent(&declinedError{7}) }),
			runtime.WithRollbackRetry[resumeState](runtime.RetryPolicy{Attempts: 1})),
		runtime.NewStep("B", func(context.Context, *resumeState) (runtime.Outcome, error) { panic("boom") },
			runtime.WithRetry[resumeState](runtime.RetryPolicy{Attempts: 1})),
	); err != nil {
		t.Fatal(err)
	}
	res, _ := f.Execute(context.Background(), resumeState{})
	if res.Final != runtime.StateCompensationFailed {
		t.Fatalf("run ended %s", res.Final)
	}
	for _, c := range []struct{ span, want string }{
		{"step A", ""},
		{"step B", "panic"},
		{"rollback A", "*observe_test.declinedError"},
		{"run Broken", "panic"},
	} {
		s := oneSpan(t, exp, c.span)
		if got := attr(s, "error.type"); got != c.want || (got != "") != (s.Status.Code == codes.Error) {
			t.Errorf("%s: error.type %q, status %v; want %q", c.span, got, s.Status, c.want)
		}
	}

	exp.Reset()
	g := runtime.New[resumeState]("Plain", runtime.WithObserver(tel))
	if err := g.Register(runtime.NewStep("A", func(context.Context, *resumeState) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("card 4242 declined"))
	})); err != nil {
		t.Fatal(err)
	}
	if res, _ := g.Execute(context.Background(), resumeState{}); res.Final != runtime.StateFailed {
		t.Fatalf("run ended %s", res.Final)
	}
	for _, name := range []string{"step A", "run Plain"} {
		if s := oneSpan(t, exp, name); attr(s, "error.type") != "_OTHER" || s.Status.Code != codes.Error {
			t.Errorf("%s: error.type %q, status %v; want _OTHER, Error", name, attr(s, "error.type"), s.Status)
		}
	}
}

// TestPublishSpanErrorType: a publication the broker refuses because it is
// full says so in its span's error.type (engine.ErrBrokerFull:
// broker_full), and so do the publish step's attempts and its run: the
// engine's error names its class, which observe reads without knowing the
// engine.
func TestPublishSpanErrorType(t *testing.T) {
	tel, exp, _ := traced(t)
	e := fullBrokerEngine(t, tel)
	id, err := e.StartRun(context.Background(), "Notify", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(spansNamed(exp, "run Notify")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not end", id)
		}
	}
	for _, name := range []string{"publish orders", "step Tell", "run Notify"} {
		spans := spansNamed(exp, name)
		if len(spans) == 0 {
			t.Errorf("no span %q", name)
		}
		for _, s := range spans {
			if attr(s, "error.type") != "broker_full" || s.Status.Code != codes.Error {
				t.Errorf("%s: error.type %q, status %v; want broker_full, Error", name, attr(s, "error.type"), s.Status)
			}
		}
	}
}
