package observe_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A rollback that waits without a goroutine (gated by an event, a rollback
// call's child, a Go rollback's provider) is a wait as an await is: the
// run counts in flowgen_runs_waiting while parked, and a wait span says
// what it waits for and how the wait ended.

// telMetrics reads tel's metrics page.
func telMetrics(t *testing.T, tel *observe.Telemetry) map[string]*dtoFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// untilWaiting waits until flowgen_runs_waiting{flow} is want.
func untilWaiting(t *testing.T, tel *observe.Telemetry, flow string, want float64) {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if got = max(sample(telMetrics(t, tel), "flowgen_runs_waiting", "flow", flow), 0); got == want {
			return
		}
	}
	t.Fatalf("flowgen_runs_waiting{flow=%q} = %v, want %v", flow, got, want)
}

// oneSpan returns the one exported span called name.
func oneSpan(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	spans := spansNamed(exp, name)
	if len(spans) != 1 {
		t.Fatalf("%d spans %q, want 1", len(spans), name)
	}
	return spans[0]
}

type gatedState struct {
	ID string `json:"id"`
}

var gateStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// TestGatedRollbackWaits: a rollback gated by RollbackAwait, parked before
// its attempt, counts as waiting and has a wait span with the awaited
// event and the deadline; the event ends it "woken", the deadline
// "timeout", a suspension "suspended", and a run resumed parked waits
// again.
func TestGatedRollbackWaits(t *testing.T) {
	tel, exp, _ := traced(t)
	clock, bus, sink := runtime.NewFakeClock(gateStart), runtime.NewMemoryBus(), runtime.NewMemorySink()
	gated := func() *runtime.Flow[gatedState] {
		f := runtime.New[gatedState]("Gate", runtime.WithObserver(tel), runtime.WithClock(clock), runtime.WithSubscriber(bus), runtime.WithSink(sink))
		pay := runtime.NewStep("Pay", func(context.Context, *gatedState) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(context.Context, *gatedState) error { return nil }),
			runtime.WithRollbackRetry[gatedState](runtime.RetryPolicy{Attempts: 1}))
		pay.RollbackAwait = &runtime.Await[gatedState]{Topic: "ops", Event: "refund.allowed", Field: "run",
			Correlate: func(s *gatedState) string { return s.ID }, Timeout: time.Hour}
		if err := f.Register(pay, runtime.NewStep("Ship", func(context.Context, *gatedState) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("no parcel service"))
		}, runtime.WithIrreversible[gatedState]())); err != nil {
			t.Fatal(err)
		}
		return f
	}
	ended := func(r *runtime.Run[gatedState], want runtime.RunState) {
		t.Helper()
		if res, _ := r.Wait(context.Background()); res.Final != want {
			t.Fatalf("run %s ended %s, want %s", res.RunID, res.Final, want)
		}
	}

	// The event comes.
	r, err := gated().Start(context.Background(), gatedState{ID: "g1"}, runtime.WithRunID("g1"))
	if err != nil {
		t.Fatal(err)
	}
	untilWaiting(t, tel, "Gate", 1)
	if err := bus.Publish(context.Background(), "ops", "refund.allowed", json.RawMessage(`{"run":"g1"}`)); err != nil {
		t.Fatal(err)
	}
	ended(r, runtime.StateCompensated)
	untilWaiting(t, tel, "Gate", 0)
	w := oneSpan(t, exp, "wait Pay")
	if attr(w, "flowgen.topic") != "ops" || attr(w, "flowgen.event") != "refund.allowed" || attr(w, "flowgen.step") != "Pay" || attr(w, "flowgen.flow") != "Gate" ||
		attr(w, "flowgen.deadline") != gateStart.Add(time.Hour).Format(time.RFC3339Nano) || attr(w, "flowgen.outcome") != "woken" ||
		attr(w, "flowgen.idempotency_key") != "g1/Pay/rollback" {
		t.Errorf("wait span of the gate: %v", w.Attributes)
	}
	if run := oneSpan(t, exp, "run Gate"); w.Parent.SpanID() != run.SpanContext.SpanID() {
		t.Errorf("the wait span is not a child of the run's span")
	}
	exp.Reset()

	// Suspended while parked, resumed parked, then the deadline passes.
	r, err = gated().Start(context.Background(), gatedState{ID: "g2"}, runtime.WithRunID("g2"))
	if err != nil {
		t.Fatal(err)
	}
	untilWaiting(t, tel, "Gate", 1)
	clock.BlockUntil(1) // the gate's deadline is armed
	_ = r.Suspend()
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatal(err)
	}
	untilWaiting(t, tel, "Gate", 0)
	if w := oneSpan(t, exp, "wait Pay"); attr(w, "flowgen.outcome") != "suspended" {
		t.Errorf("wait span of the suspended gate: %v", w.Attributes)
	}
	exp.Reset()
	r, err = gated().Resume(context.Background(), sink.History("g2"))
	if err != nil {
		t.Fatal(err)
	}
	untilWaiting(t, tel, "Gate", 1)
	clock.BlockUntil(1)
	clock.Advance(2 * time.Hour)
	ended(r, runtime.StateCompensationFailed)
	untilWaiting(t, tel, "Gate", 0)
	if w := oneSpan(t, exp, "wait Pay"); attr(w, "flowgen.event") != "refund.allowed" || attr(w, "flowgen.outcome") != "timeout" || attr(w, "flowgen.deadline") == "" ||
		attr(w, "flowgen.idempotency_key") != "g2/Pay/rollback" || attr(w, "error.type") != "timeout" {
		t.Errorf("wait span of the resumed gate past its deadline: %v", w.Attributes)
	}
	// The attempt the deadline ended, its code never run, is an attempt
	// all the same: counted, and a span of its own.
	if n := sample(telMetrics(t, tel), "flowgen_rollbacks_total", "outcome", "timeout"); n != 1 {
		t.Errorf("flowgen_rollbacks_total{outcome=\"timeout\"} = %v, want 1", n)
	}
	if a := oneSpan(t, exp, "rollback Pay"); attr(a, "flowgen.outcome") != "timeout" || attr(a, "error.type") != "timeout" {
		t.Errorf("rollback span of the attempt its gate's deadline ended: %v", a.Attributes)
	}
}

type orderState struct{ Charge string }

type refundState struct {
	Charge string `json:"charge"`
}

// TestRollbackCallWaits: a rollback call parked on its child counts as
// waiting, and its wait span names the child and the attempt's deadline;
// the child's end ends it "woken".
func TestRollbackCallWaits(t *testing.T) {
	tel, exp, _ := traced(t)
	bus := runtime.NewMemoryBus()
	refund := runtime.New[refundState]("Refund", runtime.WithObserver(tel), runtime.WithSubscriber(bus))
	if err := refund.Register(runtime.NewAwait[refundState]("bank", "refunded", nil, nil, 0, runtime.WithID[refundState]("Refunded"))); err != nil {
		t.Fatal(err)
	}
	order := runtime.New[orderState]("Order", runtime.WithObserver(tel))
	if err := order.Register(
		runtime.NewStep("Pay", func(context.Context, *orderState) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollbackCall(refund, func(s *orderState) refundState { return refundState{Charge: s.Charge} }),
			runtime.WithRollbackTimeout[orderState](time.Hour)),
		runtime.NewStep("Ship", func(context.Context, *orderState) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("no parcel service"))
		}, runtime.WithIrreversible[orderState]()),
	); err != nil {
		t.Fatal(err)
	}
	r, err := order.Start(context.Background(), orderState{Charge: "ch-1"}, runtime.WithRunID("o1"))
	if err != nil {
		t.Fatal(err)
	}
	untilWaiting(t, tel, "Order", 1)
	untilWaiting(t, tel, "Refund", 1) // the child's own await
	st := r.Status()
	if st.Wait == nil || st.Wait.Child == nil {
		t.Fatalf("status while the rollback waits: %s, wait %+v", st.Machine, st.Wait)
	}
	child := *st.Wait.Child
	if err := bus.Publish(context.Background(), "bank", "refunded", nil); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.Wait(context.Background()); res.Final != runtime.StateCompensated {
		t.Fatalf("run ended %s", res.Final)
	}
	untilWaiting(t, tel, "Order", 0)
	untilWaiting(t, tel, "Refund", 0)
	w := oneSpan(t, exp, "wait Pay")
	if attr(w, "flowgen.child_flow") != "Refund" || attr(w, "flowgen.child_run_id") != child.RunID || child.RunID == "" ||
		attr(w, "flowgen.deadline") == "" || attr(w, "flowgen.topic") != "" || attr(w, "flowgen.outcome") != "woken" {
		t.Errorf("wait span of the rollback call (child %+v): %v", child, w.Attributes)
	}
}

// providerFlow is a JSON flow whose Go rollback Release is served by
// remote providers; Check fails, so that Reserve is rolled back.
const providerFlow = `{"version": 1, "flows": [{
  "name": "Bill", "state": "BillState",
  "steps": [
    {"name": "Reserve", "action": {"kind": "go"}, "rollback": {"name": "Release"}},
    {"name": "Check", "action": {"kind": "go"}, "irreversible": true}
  ]}]}`

// TestProviderRollbackWaits: an engine's Go rollback waiting for a
// provider counts as waiting, with a wait span on the provider topic that
// ends "woken" when a handler of it comes. (Reserve and Check have their
// handlers before the flow loads: only Release is served by providers.)
func TestProviderRollbackWaits(t *testing.T) {
	tel, exp, _ := traced(t)
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Telemetry: tel, Providers: &engine.ProviderOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Bill.Reserve", func(context.Context, *engine.State) (runtime.Outcome, error) { return "", nil })
	e.Registry().Step("Bill.Check", func(context.Context, *engine.State) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("declined"))
	})
	if ds, err := e.LoadFlows("bill.json", []byte(providerFlow)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	id, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	untilWaiting(t, tel, "Bill", 1)
	if st, err := e.Status(context.Background(), id); err != nil || st.Machine != "Reserve:rollback" {
		t.Fatalf("counted as waiting in %s (%v), want Reserve:rollback", st.Machine, err)
	}
	e.Registry().Rollback("Bill.Release", func(context.Context, *engine.State) error { return nil })
	untilWaiting(t, tel, "Bill", 0)
	var w tracetest.SpanStub
	for deadline := time.Now().Add(10 * time.Second); w.Name == "" && time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if spans := spansNamed(exp, "wait Reserve"); len(spans) > 0 {
			w = spans[0]
		}
	}
	if attr(w, "flowgen.topic") != engine.ProviderRollbackTopic || attr(w, "flowgen.event") != "Release" || attr(w, "flowgen.deadline") != "" || attr(w, "flowgen.outcome") != "woken" {
		t.Errorf("wait span of the provider's rollback: %v", w.Attributes)
	}
}
