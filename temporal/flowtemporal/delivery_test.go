package flowtemporal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

type paid struct {
	Order   string
	Payment json.RawMessage
}

// An event's signal that carries its sender's trace context (DeliverWith,
// SignalArg) wakes the await with the payload and records the link on the
// wake-up event, as the runtime records Delivery.Link; one that carries
// the payload alone, as senders without a link and older code send it,
// still wakes it, without a link.
func TestDeliveryLink(t *testing.T) {
	const link = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, c := range []struct {
		name string
		d    runtime.Delivery
	}{
		{"with a link", runtime.Delivery{Payload: json.RawMessage(`{"correlation_id":"o-1","amount":3}`), Link: link}},
		{"payload alone", runtime.Delivery{Payload: json.RawMessage(`{"correlation_id":"o-1","amount":3}`)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := runtime.New[paid]("Pay", Awaits())
			must(t, def.Register(
				runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, func(s *paid) string { return s.Order }, time.Hour),
				runtime.NewStep("Ship", func(context.Context, *paid) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }, runtime.WithIrreversible[paid]()),
			))
			f, err := New(def)
			must(t, err)
			env := newEnv(t)
			f.Register(env)
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(SignalName("payments", "paid"), SignalArg(c.d))
			}, time.Minute)
			env.ExecuteWorkflow(WorkflowName("Pay"), paid{Order: "o-1"})
			wantEnd(t, env, runtime.StateDone)
			h := status(t, env).History
			var woke *runtime.Event
			for i := range h {
				if h[i].From == runtime.WaitingState("paid") && h[i].To == runtime.RunningState("paid") {
					woke = &h[i]
				}
			}
			if woke == nil {
				t.Fatalf("no wake-up event in %q", transitions(h))
			}
			if woke.Link != c.d.Link || string(woke.Payload) != string(c.d.Payload) {
				t.Errorf("wake-up event: link %q, payload %s; want %q, %s", woke.Link, woke.Payload, c.d.Link, c.d.Payload)
			}
		})
	}
}

// An event whose correlation member is null does not wake a run whose
// correlation is empty (runtime.Correlation compares null as written), but
// a run that took one with the code before still takes it when it
// replays: the change is workflow.GetVersion'd.
func TestNullCorrelation(t *testing.T) {
	for _, c := range []struct {
		name    string
		version int // what GetVersion answers: DefaultVersion for a run that took the event before
		want    runtime.RunState
	}{
		{"a new run", 1, runtime.StateFailed},
		{"a run replayed from before", -1, runtime.StateDone},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := runtime.New[paid]("Pay", Awaits())
			must(t, def.Register(
				runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, func(s *paid) string { return s.Order }, time.Hour,
					runtime.WithCorrelationField[paid]("order_id")),
				runtime.NewStep("Ship", func(context.Context, *paid) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }, runtime.WithIrreversible[paid]()),
			))
			f, err := New(def)
			must(t, err)
			env := newEnv(t)
			f.Register(env)
			env.OnGetVersion(versionNullCorrelation, workflow.DefaultVersion, 1).Return(workflow.Version(c.version))
			// The run's correlation is "": a run from before waited so too
			// (versionEmptyCorrelation), a new one fails at once either way.
			env.OnGetVersion(versionEmptyCorrelation, workflow.DefaultVersion, 1).Return(workflow.Version(c.version))
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(SignalName("payments", "paid"), SignalArg(runtime.Delivery{Payload: json.RawMessage(`{"order_id":null,"amount":3}`)}))
			}, time.Minute)
			env.ExecuteWorkflow(WorkflowName("Pay"), paid{}) // no order: the correlation is ""
			wantEnd(t, env, c.want)
		})
	}
}

// A JSON flow's null correlate field correlates as "null", as an event's
// null member does (Await.Correlate, runtime.CorrelationText), no longer
// as "" (Await.CorrelateBefore); a run that waited with the code before
// still waits for "" when it replays, taking the empty value's event it
// took: the change is workflow.GetVersion'd.
func TestStateCorrelationBefore(t *testing.T) {
	for _, c := range []struct {
		name    string
		version int // what GetVersion answers: DefaultVersion for a run that waited before
		payload string
		want    runtime.RunState
	}{
		{"a new run takes null", 1, `{"order_id":null,"amount":3}`, runtime.StateDone},
		{"a new run leaves the empty value", 1, `{"order_id":"","amount":3}`, runtime.StateFailed},
		{"a run replayed from before takes the empty value", -1, `{"order_id":"","amount":3}`, runtime.StateDone},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := runtime.New[paid]("Pay", Awaits())
			wait := runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, func(s *paid) string { return "null" }, time.Hour,
				runtime.WithCorrelationField[paid]("order_id"))
			wait.Await.CorrelateBefore = func(s *paid) string { return "" }
			must(t, def.Register(wait,
				runtime.NewStep("Ship", func(context.Context, *paid) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }, runtime.WithIrreversible[paid]()),
			))
			f, err := New(def)
			must(t, err)
			env := newEnv(t)
			f.Register(env)
			env.OnGetVersion(versionStateCorrelation, workflow.DefaultVersion, 1).Return(workflow.Version(c.version))
			// A run from before waited for "" (versionEmptyCorrelation).
			env.OnGetVersion(versionEmptyCorrelation, workflow.DefaultVersion, 1).Return(workflow.Version(c.version))
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(SignalName("payments", "paid"), SignalArg(runtime.Delivery{Payload: json.RawMessage(c.payload)}))
			}, time.Minute)
			env.ExecuteWorkflow(WorkflowName("Pay"), paid{})
			wantEnd(t, env, c.want)
		})
	}
}

// An event whose payload is not JSON cannot wake a correlated await, and
// the run drops it as it drops another run's event; but the log says so,
// with the run, step, topic and event, not that the event was another
// correlation's: an operator reading it looks for the sender that wrote
// the bytes, not for a run of another order.
func TestDroppedEventSaysWhy(t *testing.T) {
	def := runtime.New[paid]("Pay", Awaits())
	must(t, def.Register(
		runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, func(s *paid) string { return s.Order }, time.Hour),
		runtime.NewStep("Ship", func(context.Context, *paid) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }, runtime.WithIrreversible[paid]()),
	))
	f, err := New(def)
	must(t, err)
	var logs bytes.Buffer
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: testRun})
	f.Register(env)
	for i, p := range []string{`not json`, `{"correlation_id":"o-2"}`, `{"correlation_id":"o-1"}`} {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(SignalName("payments", "paid"), SignalArg(runtime.Delivery{Payload: json.RawMessage(p)}))
		}, time.Duration(i+1)*time.Minute)
	}
	env.ExecuteWorkflow(WorkflowName("Pay"), paid{Order: "o-1"})
	wantEnd(t, env, runtime.StateDone)
	var dropped []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "dropped") {
			dropped = append(dropped, line)
		}
	}
	if len(dropped) != 2 ||
		!strings.Contains(dropped[0], "level=WARN") || !strings.Contains(dropped[0], "not JSON") || !strings.Contains(dropped[0], "run_id="+testRun) || !strings.Contains(dropped[0], "topic=payments") ||
		!strings.Contains(dropped[1], "another correlation") {
		t.Errorf("the log of the dropped events:\n%s\nwant the first (not JSON) said so, as a warning naming the run and topic, and the second another correlation's", strings.Join(dropped, ""))
	}
}

// A definition whose awaits would ask a Subscriber of its own (not
// Awaits()) is refused: on Temporal an await is a signal, and that
// Subscriber would never be asked. A flow with no await may keep one: it
// asks none on either executor.
func TestSubscriberRefused(t *testing.T) {
	step := func() *runtime.Step[paid] {
		return runtime.NewStep("Ship", func(context.Context, *paid) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }, runtime.WithIrreversible[paid]())
	}
	def := runtime.New[paid]("Pay", runtime.WithSubscriber(runtime.NewMemoryBus()))
	must(t, def.Register(
		runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, func(s *paid) string { return s.Order }, time.Hour),
		step(),
	))
	if _, err := New(def); err == nil || !strings.Contains(err.Error(), "runtime.WithSubscriber") || !strings.Contains(err.Error(), "flowtemporal.Awaits()") {
		t.Fatalf("New with a Subscriber and an await: %v, want a refusal naming runtime.WithSubscriber", err)
	}
	def = runtime.New[paid]("Ship", runtime.WithSubscriber(runtime.NewMemoryBus()))
	must(t, def.Register(step()))
	if _, err := New(def); err != nil {
		t.Fatalf("New with a Subscriber and no await: %v", err)
	}
}

// Deliver answers in the runtime's terms, as the handle's other methods
// do: runtime.ErrUnknownRun for an ID no run has, runtime.ErrFinished for
// a run that is over (no await can take the event). Temporal answers "not
// found" to both; before, Deliver returned that as it was.
func TestDeliverToNoRunOrARunOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	def := runtime.New[paid]("Quick", Awaits())
	must(t, def.Register(runtime.NewStep("Ship", func(context.Context, *paid) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
		runtime.WithIrreversible[paid]())))
	f, err := New(def)
	must(t, err)
	c := onServer(t, f, "deliver")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := Start(ctx, c, "Quick", paid{}, client.StartWorkflowOptions{ID: "quick-1", TaskQueue: "deliver"})
	must(t, err)
	if _, err := run.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := run.Deliver(ctx, "payments", "paid", json.RawMessage(`{}`)); !errors.Is(err, runtime.ErrFinished) {
		t.Errorf("Deliver to a run over: %v, want runtime.ErrFinished", err)
	}
	if err := Attach[paid](c, "nobody").Deliver(ctx, "payments", "paid", json.RawMessage(`{}`)); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("Deliver to no run: %v, want runtime.ErrUnknownRun", err)
	}
}

// Deliver refuses a payload that is not JSON before it signals anyone, as
// the runtime's publishers refuse to encode one: before, it signalled the
// run and answered nil, and the run dropped the event with a warning in
// its worker's log, where the sender never looks.
func TestDeliverRefusesPayloadNotJSON(t *testing.T) {
	c := &signalCounter{}
	err := Deliver(context.Background(), c, "r1", "payments", "paid", json.RawMessage(`not json`))
	if !errors.Is(err, runtime.ErrPayloadNotJSON) || c.signals != 0 {
		t.Errorf("Deliver of a payload that is not JSON: %v, %d signals; want runtime.ErrPayloadNotJSON and none", err, c.signals)
	}
	for _, p := range []string{`{"amount":3}`, ``} {
		if err := Deliver(context.Background(), c, "r1", "payments", "paid", json.RawMessage(p)); err != nil {
			t.Errorf("Deliver of %q: %v", p, err)
		}
	}
	if c.signals != 2 {
		t.Errorf("%d signals for a JSON payload and an empty one, want 2", c.signals)
	}
}

// signalCounter is a client that counts the signals it is asked to send;
// any other call panics (the nil client.Client).
type signalCounter struct {
	client.Client
	signals int
}

func (c *signalCounter) SignalWorkflow(context.Context, string, string, string, any) error {
	c.signals++
	return nil
}
