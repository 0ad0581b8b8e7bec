package flowtemporal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// Calls on the test environment: flow Order reserves, calls flow Billing
// as a child (its rollback calls flow Refund) and ships. Billing charges,
// sleeps an hour (a window for an abort) and checks.
type invoice struct {
	Amount int
	Charge string
	Fail   bool
}

type shop struct {
	Reserved bool
	Invoice  invoice
	Receipt  invoice
	ShipFail bool
}

type calls struct {
	j          journal
	sink       *runtime.MemorySink
	refundFail int // how many Refund runs fail before one succeeds
}

func (c *calls) flows(t *testing.T) *Flow[shop] {
	t.Helper()
	c.sink = runtime.NewMemorySink()
	opt := runtime.WithSink(c.sink)
	billing := runtime.New[invoice]("Billing", opt)
	must(t, billing.Register(
		runtime.NewStep("Charge", func(ctx context.Context, s *invoice) (runtime.Outcome, error) {
			s.Charge = fmt.Sprintf("ch-%d", s.Amount)
			c.j.add("do Charge %s", runtime.IdempotencyKey(ctx))
			return runtime.OutcomeOK, nil
		}, runtime.WithRollback(func(ctx context.Context, s *invoice) error {
			c.j.add("undo Charge %s %s", runtime.IdempotencyKey(ctx), s.Charge)
			return nil
		})),
		runtime.NewSleep[invoice]("Settle", time.Hour, nil),
		runtime.NewStep("Check", func(ctx context.Context, s *invoice) (runtime.Outcome, error) {
			if s.Fail {
				c.j.add("fail Check %s", runtime.IdempotencyKey(ctx))
				return "", runtime.Permanent(errors.New("card declined"))
			}
			return runtime.OutcomeOK, nil
		}, runtime.WithIrreversible[invoice]()),
	))
	refund := runtime.New[invoice]("Refund", opt)
	must(t, refund.Register(runtime.NewStep("Refund", func(ctx context.Context, s *invoice) (runtime.Outcome, error) {
		if c.refundFail > 0 {
			c.refundFail--
			c.j.add("fail Refund %s %s", runtime.RunID(ctx), s.Charge)
			return "", runtime.Permanent(errors.New("bank down"))
		}
		c.j.add("do Refund %s %s", runtime.RunID(ctx), s.Charge)
		return runtime.OutcomeOK, nil
	}, runtime.WithIrreversible[invoice]())))
	order := runtime.New[shop]("Order", opt)
	must(t, order.Register(
		runtime.NewStep("Reserve", func(ctx context.Context, s *shop) (runtime.Outcome, error) {
			s.Reserved = true
			c.j.add("do Reserve %s", runtime.IdempotencyKey(ctx))
			return runtime.OutcomeOK, nil
		}, runtime.WithRollback(func(ctx context.Context, s *shop) error {
			c.j.add("undo Reserve %s", runtime.IdempotencyKey(ctx))
			return nil
		})),
		runtime.NewCall("Bill", billing, func(s *shop) invoice { return s.Invoice }, func(s *shop) *invoice { return &s.Receipt },
			runtime.WithRollbackCall(refund, func(s *shop) invoice { return s.Receipt }),
			runtime.WithRollbackRetry[shop](runtime.RetryPolicy{Attempts: 3, Initial: time.Minute}),
			runtime.WithRollbackTimeout[shop](time.Hour)),
		runtime.NewStep("Ship", func(ctx context.Context, s *shop) (runtime.Outcome, error) {
			if s.ShipFail {
				c.j.add("fail Ship %s", runtime.IdempotencyKey(ctx))
				return "", runtime.Permanent(errors.New("no truck"))
			}
			c.j.add("do Ship %s", runtime.IdempotencyKey(ctx))
			return runtime.OutcomeOK, nil
		}, runtime.WithIrreversible[shop]()),
	))
	tb, err := New(billing)
	must(t, err)
	tr, err := New(refund)
	must(t, err)
	if _, err := New(order, tb); err == nil {
		t.Fatal("New of a flow without the flow its rollback calls: no error")
	}
	to, err := New(order, tb, tr)
	must(t, err)
	return to
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The child runs as a child workflow whose ID is the runtime's child run
// ID; the parent takes its final state into the call's result field; both
// histories link the runs.
func TestCallDone(t *testing.T) {
	c := &calls{}
	env := newEnv(t)
	f := c.flows(t)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, shop{Invoice: invoice{Amount: 100}})
	wantEnd(t, env, runtime.StateDone)
	var final shop
	must(t, env.GetWorkflowResult(&final))
	if final.Receipt.Charge != "ch-100" || final.Receipt.Amount != 100 || !final.Reserved {
		t.Errorf("final state %+v", final)
	}
	want := []string{"do Reserve run-1/Reserve", "do Charge run-1@Bill/Charge", "do Ship run-1/Ship"}
	if d := cmp.Diff(want, c.j.get()); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	st := status(t, env)
	wantH := []string{
		"pending>Reserve:running",
		"Reserve:running>Bill:waiting",
		"Bill:waiting>Bill:running@run-1@Bill",
		"Bill:running>Ship:running",
		"Ship:running>done",
	}
	if d := cmp.Diff(wantH, transitions(st.History)); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	if w := st.History[1].Wait; w == nil || w.Child == nil || *w.Child != (runtime.RunRef{Flow: "Billing", RunID: "run-1@Bill"}) {
		t.Errorf("the wait %+v does not name the child", w)
	}
	if len(st.Children) != 1 || st.Children[0].RunID != "run-1@Bill" {
		t.Errorf("status children %+v", st.Children)
	}
	// The test environment gives a child workflow no memo, so its first
	// event has no Parent here (the e2e tests check it on a server).
	child := c.sink.History("run-1@Bill")
	if len(child) == 0 {
		t.Fatal("no child history")
	}
	if got := child[len(child)-1].To; got != string(runtime.StateDone) {
		t.Errorf("child ended %s", got)
	}
}

// A child that fails compensates itself; the call fails with a
// *runtime.ChildError and the parent rolls back its own completed steps.
func TestCallChildFails(t *testing.T) {
	c := &calls{}
	env := newEnv(t)
	f := c.flows(t)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, shop{Invoice: invoice{Amount: 100, Fail: true}})
	wantEnd(t, env, runtime.StateCompensated)
	want := []string{
		"do Reserve run-1/Reserve",
		"do Charge run-1@Bill/Charge",
		"fail Check run-1@Bill/Check",
		"undo Charge run-1@Bill/Charge/rollback ch-100",
		"undo Reserve run-1/Reserve/rollback",
	}
	if d := cmp.Diff(want, c.j.get()); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	st := status(t, env)
	e := st.History[2]
	if e.From != "Bill:waiting" || e.To != runtime.MachineFailing || e.Child == nil || e.Outcome != runtime.OutcomeError ||
		e.Error != `child run "run-1@Bill" of flow "Billing" ended compensated: step Check: card declined` {
		t.Errorf("the call's end %+v", e)
	}
	if h := c.sink.History("run-1@Bill"); h[len(h)-1].To != string(runtime.StateCompensated) {
		t.Errorf("child ended %s", h[len(h)-1].To)
	}
}

// An abort of the parent while its child runs aborts the child, which
// rolls back its own steps, before the parent rolls back its own.
func TestCallAbort(t *testing.T) {
	c := &calls{}
	env := newEnv(t)
	f := c.flows(t)
	f.Register(env)
	env.RegisterDelayedCallback(env.CancelWorkflow, 30*time.Minute)
	env.ExecuteWorkflow(f.Workflow, shop{Invoice: invoice{Amount: 100}})
	wantEnd(t, env, runtime.StateAborted)
	want := []string{
		"do Reserve run-1/Reserve",
		"do Charge run-1@Bill/Charge",
		"undo Charge run-1@Bill/Charge/rollback ch-100",
		"undo Reserve run-1/Reserve/rollback",
	}
	if d := cmp.Diff(want, c.j.get()); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	if h := c.sink.History("run-1@Bill"); h[len(h)-1].To != string(runtime.StateAborted) {
		t.Errorf("child ended %s", h[len(h)-1].To)
	}
	st := status(t, env)
	if e := st.History[2]; e.From != "Bill:waiting" || e.To != runtime.MachineAborting || e.Child == nil {
		t.Errorf("the abort %+v", e)
	}
}

// A later step fails: the call is rolled back by its rollback call, a
// child run of Refund on the call's result; a Refund that fails is retried
// as a new child (its ID numbered by attempt), each attempt's end naming
// its child.
func TestRollbackCall(t *testing.T) {
	c := &calls{refundFail: 1}
	env := newEnv(t)
	f := c.flows(t)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, shop{Invoice: invoice{Amount: 100}, ShipFail: true})
	wantEnd(t, env, runtime.StateCompensated)
	want := []string{
		"do Reserve run-1/Reserve",
		"do Charge run-1@Bill/Charge",
		"fail Ship run-1/Ship",
		"fail Refund run-1@Bill:rollback ch-100",
		"do Refund run-1@Bill:rollback:2 ch-100",
		"undo Reserve run-1/Reserve/rollback",
	}
	if d := cmp.Diff(want, c.j.get()); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	st := status(t, env)
	h := transitions(st.History)
	wantH := []string{
		"Ship:running>failing",
		"failing>Bill:rollback",
		"Bill:rollback>Bill:rollback@run-1@Bill:rollback",
		"Bill:rollback>failing@run-1@Bill:rollback:2",
		"failing>Reserve:rollback",
		"Reserve:rollback>failing",
		"failing>compensated",
	}
	if d := cmp.Diff(wantH, h[len(h)-len(wantH):]); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	// The event that starts each attempt names its child in its Wait, as
	// the runtime's does (runtime.Event.Parks), until when its timer runs:
	// the rollback's timeout, after the backoff for a retry.
	var waits []string
	for _, e := range st.History {
		if w := e.Parks(); w != nil && e.To == "Bill:rollback" {
			waits = append(waits, fmt.Sprintf("%s>%s %s %v", e.From, e.To, w.Child.RunID, w.Deadline.Sub(e.Time)))
		}
	}
	wantW := []string{
		"failing>Bill:rollback run-1@Bill:rollback 1h0m0s",
		"Bill:rollback>Bill:rollback run-1@Bill:rollback:2 1h1m0s",
	}
	if d := cmp.Diff(wantW, waits); d != "" {
		t.Errorf("the rollback call's waits (-want +got):\n%s", d)
	}
	// The status while the first child runs: the history up to the event
	// that started it.
	for i, e := range st.History {
		if e.To == "Bill:rollback" {
			during, err := runtime.Replay(st.History[:i+1])
			if err != nil {
				t.Fatal(err)
			}
			if w := during.Wait; w == nil || w.Child == nil || w.Child.RunID != "run-1@Bill:rollback" {
				t.Errorf("status while the rollback call runs: %s, wait %+v; want its child run-1@Bill:rollback", during.Machine, w)
			}
			break
		}
	}
	wantC := []string{"run-1@Bill", "run-1@Bill:rollback", "run-1@Bill:rollback:2"}
	var children []string
	for _, c := range st.Children {
		children = append(children, c.RunID)
	}
	if d := cmp.Diff(wantC, children); d != "" {
		t.Errorf("children (-want +got):\n%s", d)
	}
}

// A worker may register a called flow on its own before its caller, whose
// Register registers it again.
func TestRegisterCalleeFirst(t *testing.T) {
	c := &calls{}
	env := newEnv(t)
	f := c.flows(t)
	for _, callee := range f.opts.Calls {
		callee.(interface{ Register(worker.Registry) }).Register(env)
	}
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, shop{Invoice: invoice{Amount: 1}})
	wantEnd(t, env, runtime.StateDone)
}

// A rollback gated by an event (runtime.Step.RollbackAwait) is refused:
// this target has nothing that would make it wait.
func TestRollbackAwaitRefused(t *testing.T) {
	def := runtime.New[invoice]("Gated", runtime.WithSubscriber(runtime.NewMemoryBus()))
	st := runtime.NewStep("Charge", func(context.Context, *invoice) (runtime.Outcome, error) { return "", nil },
		runtime.WithRollback(func(context.Context, *invoice) error { return nil }))
	st.RollbackAwait = &runtime.Await[invoice]{Topic: "ops", Event: "refund.allowed"}
	if err := def.Register(st); err != nil {
		t.Fatal(err)
	}
	if _, err := New(def); err == nil || !strings.Contains(err.Error(), "RollbackAwait") {
		t.Fatalf("New: %v, want a refusal naming RollbackAwait", err)
	}
}

// A call whose child cannot be started (Options.Children fails: the JSON
// flows' worker has not loaded the callee, or its input is no object)
// fails its step, and a rollback call's attempt, saying so, and the run's
// status lists no such child, as on the runtime: it names no workflow
// that does not exist.
func TestCallChildNotStarted(t *testing.T) {
	c := &calls{}
	env := newEnv(t)
	f := c.flows(t)
	var callees []Callee
	for _, ce := range f.calls {
		callees = append(callees, ce)
	}
	f, err := NewWith(f.Runtime(), Options{Calls: callees, Children: func(ctx workflow.Context, flow string, input any) (any, map[string]any, error) {
		if flow == "Refund" {
			return nil, nil, errors.New("flow Refund is not loaded on this worker")
		}
		return input, nil, nil
	}})
	must(t, err)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, shop{Invoice: invoice{Amount: 100}, ShipFail: true})
	wantEnd(t, env, runtime.StateCompensationFailed)
	st := status(t, env)
	if !strings.Contains(st.Err, runtime.ErrChildNotStarted.Error()) || !strings.Contains(st.Err, "not loaded") {
		t.Errorf("status error %q: want the rollback call's child not started", st.Err)
	}
	var children []string
	for _, c := range st.Children {
		children = append(children, c.RunID)
	}
	if d := cmp.Diff([]string{"run-1@Bill"}, children); d != "" {
		t.Errorf("children (-want +got):\n%s", d)
	}
	for _, e := range st.History {
		if e.Child != nil && e.Child.RunID != "run-1@Bill" {
			t.Errorf("event %s>%s names child %s, never started", e.From, e.To, e.Child.RunID)
		}
	}
}
