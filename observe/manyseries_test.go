package observe_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
)

// TestManyFlowsKeepTheirSeries: an engine of many flows exposes the
// series of each, however many: 450 flows are 2,250 series of
// flowgen_runs_finished_total, past the 2,000 an OpenTelemetry SDK keeps
// of one metric by default, beyond which it adds the measurements of new
// series to one series labelled otel_metric_overflow="true". The last
// flows' compensation_failed series were missing, and the alert on them
// could not fire.
func TestManyFlowsKeepTheirSeries(t *testing.T) {
	tel, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const flows = 450
	for i := range flows {
		f := runtime.New[resumeState](fmt.Sprintf("F%03d", i), runtime.WithObserver(tel))
		if err := f.Register(runtime.NewStep("A", func(context.Context, *resumeState) (runtime.Outcome, error) {
			return "", nil
		})); err != nil {
			t.Fatal(err)
		}
		if res, _ := f.Execute(context.Background(), resumeState{}); res.Final != runtime.StateDone {
			t.Fatalf("run of F%03d ended %s", i, res.Final)
		}
	}
	fams := telMetrics(t, tel)
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "otel_metric_overflow" {
					t.Fatalf("%s has an overflow series: the measurements of some series went into it", name)
				}
			}
		}
	}
	last := fmt.Sprintf("F%03d", flows-1)
	if v, ok := series(fams, "flowgen_runs_finished_total", "flow", last, "state", "compensation_failed"); !ok || v != 0 {
		t.Errorf("flowgen_runs_finished_total{flow=%s,state=compensation_failed}: %v (exposed: %v), want 0", last, v, ok)
	}
	if v, ok := series(fams, "flowgen_runs_finished_total", "flow", last, "state", "done"); !ok || v != 1 {
		t.Errorf("flowgen_runs_finished_total{flow=%s,state=done}: %v (exposed: %v), want 1", last, v, ok)
	}
}

// TestRefusedSeriesBounded: the refusals of a full broker keep a series
// of their own for the first observe.MaxRefusedSeries topic/event pairs,
// and count in one series of empty topic and event beyond: the pairs are
// their publishers' (any client's POST /events), so a series each would
// grow with every request for as long as the process lives. None is lost.
func TestRefusedSeriesBounded(t *testing.T) {
	tel, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const pairs = 2*observe.MaxRefusedSeries + 500
	for i := range pairs {
		tel.Refused("t", fmt.Sprintf("e%d", i))
	}
	tel.Refused("t", "e0") // a pair that has its series keeps it
	f := telMetrics(t, tel)["flowgen_broker_refused_total"]
	if n := len(f.GetMetric()); n != observe.MaxRefusedSeries+1 {
		t.Errorf("%d series, want %d", n, observe.MaxRefusedSeries+1)
	}
	if v := sample(telMetrics(t, tel), "flowgen_broker_refused_total", "", ""); v != pairs+1 {
		t.Errorf("%v refusals counted, want %d", v, pairs+1)
	}
	if v, ok := series(telMetrics(t, tel), "flowgen_broker_refused_total", "topic", "t", "event", "e0"); !ok || v != 2 {
		t.Errorf("flowgen_broker_refused_total{topic=t,event=e0}: %v (exposed: %v), want 2", v, ok)
	}
}
