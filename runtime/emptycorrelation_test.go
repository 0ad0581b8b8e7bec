package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// A correlated await whose run's value is empty (the field was never set)
// ends with the outcome error at once, routed by Next, naming the step,
// the payload path and the field: it subscribes to nothing, so it takes
// no event whose member is empty, which another run may have been sent.
// Before, it waited and took the first such event.
func TestAwaitEmptyCorrelationFails(t *testing.T) {
	sub := newProbeSub()
	sub.now = []byte(`{"correlation_id":"","amount":5}`) // another run's event, kept
	sink := runtime.NewMemorySink()
	pay := awaitPaid(time.Hour, runtime.WithNext[order](runtime.OutcomeError, "Manual"))
	pay.Await.CorrelateField = "OrderID"
	f, _ := orderFlow(t, sub, sink, pay, route("Ship"), route("Manual"))
	res, err := f.Execute(context.Background(), order{}, runtime.WithRunID("e1"))
	if err != nil || res.Final != runtime.StateDone || res.State.Route != "Manual" || res.State.Paid.Amount != 0 {
		t.Fatalf("Execute = %+v, %v; want routed to Manual without the event", res, err)
	}
	if len(sub.waits) != 0 {
		t.Errorf("subscribed %+v; want no wait", sub.waits)
	}
	h := sink.History("e1")
	want := `step "Pay" awaits payments paid correlated on correlation_id with field OrderID, which is empty: ` + runtime.ErrNoCorrelation.Error()
	if len(h) < 2 || h[0].Wait == nil || !h[0].Wait.Correlated || h[1].From != "Pay:waiting" ||
		h[1].Outcome != runtime.OutcomeError || !strings.Contains(h[1].Error, want) {
		t.Fatalf("history %+v; want the wait, then the outcome error %q", h, want)
	}

	// Unrouted, the run fails with it; one attempt only (permanent).
	sub2 := newProbeSub()
	sub2.now = sub.now
	f2, _ := orderFlow(t, sub2, nil, awaitPaid(time.Hour, runtime.WithRetry[order](runtime.RetryPolicy{Attempts: 3})), route("Ship"))
	if _, err := f2.Execute(context.Background(), order{}); !errors.Is(err, runtime.ErrNoCorrelation) {
		t.Fatalf("unrouted: %v; want ErrNoCorrelation", err)
	}
}

// An await without correlation waits as before, whatever the state: no
// value to be empty.
func TestAwaitWithoutCorrelationStillWaits(t *testing.T) {
	sub := newProbeSub()
	sub.now = []byte(`{"correlation_id":"","amount":7}`)
	pay := runtime.NewAwait("payments", "paid", func(s *order) any { return &s.Paid }, nil, time.Hour, runtime.WithID[order]("Pay"))
	f, _ := orderFlow(t, sub, nil, pay, route("Ship"))
	res, err := f.Execute(context.Background(), order{})
	if err != nil || res.State.Paid.Amount != 7 || res.State.Route != "Ship" {
		t.Fatalf("Execute = %+v, %v", res, err)
	}
}

// A run resumed from a history that waits with an empty value (recorded
// before the rule) meets the rule too: the recorded wait would take any
// run's event whose member is empty, so the step ends with error.
func TestAwaitEmptyCorrelationResumed(t *testing.T) {
	steps := func() []*runtime.Step[order] {
		return []*runtime.Step[order]{awaitPaid(time.Hour, runtime.WithNext[order](runtime.OutcomeError, "Manual")), route("Ship"), route("Manual")}
	}
	sink := runtime.NewMemorySink()
	f, _ := orderFlow(t, newProbeSub(), sink, steps()...)
	// Start returns once the first event, the wait, is recorded.
	if _, err := f.Start(context.Background(), order{}, runtime.WithRunID("e2")); err != nil {
		t.Fatal(err)
	}
	// The history as a run that parked there left it: it ends waiting.
	sink2 := runtime.NewMemorySink()
	if h := sink.History("e2"); h[0].Wait == nil || !h[0].Wait.Correlated || h[0].Wait.Correlation != "" {
		t.Fatalf("first event %+v; want the correlated wait", h[0])
	} else if err := sink2.Emit(context.Background(), h[0]); err != nil {
		t.Fatal(err)
	}
	sub := newProbeSub()
	sub.now = []byte(`{"correlation_id":"","amount":5}`) // another run's event, kept
	f2, _ := orderFlow(t, sub, sink2, steps()...)
	run, err := f2.Resume(context.Background(), sink2.History("e2"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := run.Wait(context.Background()); err != nil || res.State.Route != "Manual" || res.State.Paid.Amount != 0 {
		t.Fatalf("resumed: %+v, %v", res, err)
	}
	if len(sub.waits) != 0 {
		t.Errorf("subscribed %+v; want no wait", sub.waits)
	}
}
