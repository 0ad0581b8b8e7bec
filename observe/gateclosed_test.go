package observe_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/flowgen/flowgen/runtime"
)

// An attempt that went back to its gate (runtime.GateClosed: a Go step or
// rollback that found no live provider, after a restart of the engine
// say) failed nothing: it is part of the wait for the gate, which ends
// "woken" again. flowgen_step_duration_seconds (the action's work, not a
// wait) and flowgen_rollbacks_total (attempts) do not count it, its span
// records no error (an operator's alert on failed attempts must not fire
// on a deploy), and it is no retry.
func TestGateClosedIsNoFailedAttempt(t *testing.T) {
	tel, exp, _ := traced(t)
	clock, bus := runtime.NewFakeClock(gateStart), runtime.NewMemoryBus()
	f := runtime.New[gatedState]("BackObs", runtime.WithObserver(tel), runtime.WithClock(clock), runtime.WithSubscriber(bus), runtime.WithSink(runtime.NewMemorySink()))
	var payClosed, refundClosed = 1, 1
	pay := runtime.NewStep("Pay", func(ctx context.Context, _ *gatedState) (runtime.Outcome, error) {
		if payClosed > 0 {
			payClosed--
			return "", runtime.GateClosed(errors.New("no live provider"))
		}
		return "", nil
	}, runtime.WithRollback(func(context.Context, *gatedState) error {
		if refundClosed > 0 {
			refundClosed--
			return runtime.GateClosed(errors.New("no live provider"))
		}
		return nil
	}))
	pay.Await = &runtime.Await[gatedState]{Topic: "ops", Event: "pay.allowed", EachAttempt: true}
	pay.RollbackAwait = &runtime.Await[gatedState]{Topic: "ops", Event: "refund.allowed"}
	if err := f.Register(pay, runtime.NewStep("Ship", func(context.Context, *gatedState) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("no parcel service"))
	}, runtime.WithIrreversible[gatedState]())); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"pay.allowed", "pay.allowed", "refund.allowed", "refund.allowed"} {
		if err := bus.Publish(context.Background(), "ops", ev, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := f.Execute(context.Background(), gatedState{ID: "b1"}, runtime.WithRunID("b1"))
	if res.Final != runtime.StateCompensated {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	untilWaiting(t, tel, "BackObs", 0)
	m := telMetrics(t, tel)
	if n := series0(m, "flowgen_step_duration_seconds", "step", "Pay", "outcome", "error"); n != 0 {
		t.Errorf("flowgen_step_duration_seconds{step=Pay,outcome=error} has %v samples, want none", n)
	}
	if n := series0(m, "flowgen_step_duration_seconds", "step", "Pay", "outcome", "ok"); n != 1 {
		t.Errorf("flowgen_step_duration_seconds{step=Pay,outcome=ok} has %v samples, want 1", n)
	}
	if n := series0(m, "flowgen_rollbacks_total", "step", "Pay", "outcome", "error"); n != 0 {
		t.Errorf("flowgen_rollbacks_total{step=Pay,outcome=error} = %v, want 0", n)
	}
	if n := series0(m, "flowgen_rollbacks_total", "step", "Pay", "outcome", "ok"); n != 1 {
		t.Errorf("flowgen_rollbacks_total{step=Pay,outcome=ok} = %v, want 1", n)
	}
	if n := sample(m, "flowgen_retries_total", "step", "Pay"); n > 0 {
		t.Errorf("flowgen_retries_total{step=Pay} = %v, want none", n)
	}
	for _, name := range []string{"step Pay", "rollback Pay"} {
		for _, s := range spansNamed(exp, name) {
			if s.Status.Code == codes.Error {
				t.Errorf("span %q records an error: %v (%v)", name, s.Status, s.Attributes)
			}
		}
	}
	for _, w := range spansNamed(exp, "wait Pay") {
		if attr(w, "flowgen.outcome") != "woken" || w.Status.Code == codes.Error {
			t.Errorf("wait span %v %v, want woken", w.Attributes, w.Status)
		}
	}
}

// series0 is the value of the series of metric name with labels k1=v1 and
// k2=v2 (a counter's, a histogram's sample count), 0 when absent.
func series0(fams map[string]*dtoFamily, name, k1, v1, k2, v2 string) float64 {
	v, _ := seriesValue(fams, name, map[string]string{k1: v1, k2: v2})
	return v
}

// seriesValue is the value of the series of metric name whose labels
// include want (a counter's, a histogram's sample count), and whether
// there is one.
func seriesValue(fams map[string]*dtoFamily, name string, want map[string]string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		n := 0
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				n++
			}
		}
		if n == len(want) {
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount()), true
			}
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}
