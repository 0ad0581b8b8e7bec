package observe_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
)

// A flow built with the runtime's Go API may name itself, its steps and
// their outcomes with any string, and those names are metric labels. The
// Prometheus registry refuses a label value that is not UTF-8, and with it
// the whole of GET /metrics (500): one flow's bad name hid every metric.
// The runtime refuses such a name when the flow is defined (ErrDefinition),
// so it never reaches an observer, and /metrics keeps answering.
func TestNamesNotUTF8KeepMetrics(t *testing.T) {
	tel, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	exec := func(out runtime.Outcome) func(context.Context, *resumeState) (runtime.Outcome, error) {
		return func(context.Context, *resumeState) (runtime.Outcome, error) { return out, nil }
	}
	run := func(flow, step string, out runtime.Outcome) error {
		f := runtime.New[resumeState](flow, runtime.WithObserver(tel))
		var opts []runtime.StepOption[resumeState]
		if out != "" {
			opts = append(opts, runtime.WithNext[resumeState](out, runtime.Done))
		}
		if err := f.Register(runtime.NewStep(step, exec(out), append(opts, runtime.WithIrreversible[resumeState]())...)); err != nil {
			return err
		}
		_, err := f.Execute(context.Background(), resumeState{})
		return err
	}
	if err := run("Good", "Work", ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ flow, step, out string }{
		{"Bad\xff", "Work", ""},
		{"Good", "Wo\xferk", ""},
		{"Good", "Work", "sent\xc3"},
	} {
		if err := run(c.flow, c.step, runtime.Outcome(c.out)); !errors.Is(err, runtime.ErrDefinition) || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("flow %q, step %q, outcome %q: %v, want ErrDefinition saying the name is not UTF-8", c.flow, c.step, c.out, err)
		}
	}
	rec := httptest.NewRecorder()
	tel.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `flowgen_runs_started_total{flow="Good"`) {
		t.Fatalf("GET /metrics: %d\n%.600s", rec.Code, rec.Body.String())
	}
}
