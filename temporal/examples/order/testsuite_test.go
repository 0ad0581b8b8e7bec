package order

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// These tests run the generated workflows on the SDK's test environment
// (time skips; activities and child workflows run for real). e2e_test.go
// runs them on a real server.

const runID = "run-1"

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: runID})
	return env
}

func status(t *testing.T, env *testsuite.TestWorkflowEnvironment) runtime.Status {
	t.Helper()
	v, err := env.QueryWorkflow(flowtemporal.QueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st runtime.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// ended checks that the run ended in final (the status query replays its
// history with the runtime's Replay) and returns its status.
func ended(t *testing.T, env *testsuite.TestWorkflowEnvironment, final runtime.RunState) runtime.Status {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	err := env.GetWorkflowError()
	var canceled *temporal.CanceledError
	var app *temporal.ApplicationError
	switch final {
	case runtime.StateDone:
		if err != nil {
			t.Fatalf("workflow error %v", err)
		}
	case runtime.StateAborted:
		if !errors.As(err, &canceled) {
			t.Fatalf("workflow error %v, want a cancellation", err)
		}
	default:
		if !errors.As(err, &app) || app.Type() != "flowgen."+string(final) {
			t.Fatalf("workflow error %v, want a run ended %s", err, final)
		}
	}
	st := status(t, env)
	if st.State != final {
		t.Fatalf("status %s (%s), want %s", st.State, st.Err, final)
	}
	return st
}

func start(env *testsuite.TestWorkflowEnvironment, amount int) OrderState {
	return OrderState{Items: []string{"book", "pen"}, Invoice: Invoice{Amount: amount, SettleAt: env.Now().Add(time.Hour)}}
}

func transitions(h []runtime.Event) []string {
	var out []string
	for _, e := range h {
		s := e.From + ">" + e.To
		if e.Branch != "" {
			s = e.Branch + "|" + s
		}
		if e.Child != nil {
			s += "@" + e.Child.RunID
		}
		out = append(out, s)
	}
	return out
}

// The block's branches run and merge what they write (and nothing else);
// the call runs Billing as child workflow run-1@Bill, an hour of sleep
// included, and its final state is the receipt.
func TestOrderDone(t *testing.T) {
	w := &world{}
	env := newEnv(t)
	o := w.order(t)
	o.Register(env)
	env.ExecuteWorkflow(o.Workflow, start(env, 40))
	st := ended(t, env, runtime.StateDone)
	var final OrderState
	if err := env.GetWorkflowResult(&final); err != nil {
		t.Fatal(err)
	}
	if final.Reservation != "res-book+pen" || final.Authorization != "auth-1" || final.Scratch != "" ||
		final.Receipt.Charge != "ch-40" || !final.Receipt.Paid || !final.Shipped {
		t.Errorf("final state %+v", final)
	}
	h := transitions(st.History)
	want := []string{
		"pending>Prepare:parallel",
		"Reserve|Prepare:parallel>Reserve:running",
		"Authorize|Prepare:parallel>Authorize:running",
	}
	if d := cmp.Diff(want, h[:3]); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	want = []string{
		"Prepare:parallel>Bill:waiting",
		"Bill:waiting>Bill:running@run-1@Bill",
		"Bill:running>Ship:running",
		"Ship:running>done",
	}
	if d := cmp.Diff(want, h[5:]); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	if got := w.journal(); len(got) != 5 || got[2] != "Charge run-1@Bill/Charge" || got[3] != "Confirm run-1@Bill/Confirm" {
		t.Errorf("journal %q", got)
	}
	if child := w.sink.History("run-1@Bill"); len(child) == 0 || child[len(child)-1].To != "done" {
		t.Errorf("child history %+v", child)
	}
}

// A branch that fails for good fails the block: the branch that completed
// before is rolled back, nothing is billed.
func TestOrderBranchFails(t *testing.T) {
	w := &world{authFail: true, slowAuth: 100 * time.Millisecond}
	env := newEnv(t)
	o := w.order(t)
	o.Register(env)
	env.ExecuteWorkflow(o.Workflow, start(env, 40))
	st := ended(t, env, runtime.StateCompensated)
	want := []string{"Reserve run-1/Reserve", "fail Authorize run-1/Authorize", "Release res-book+pen run-1/Reserve/rollback"}
	if d := cmp.Diff(want, w.journal()); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	if e := st.History[len(st.History)-4]; e.From != "Prepare:parallel" || e.Error != "branch Authorize: card declined" {
		t.Errorf("the block's end %+v", e)
	}
}

// The child fails: it rolls back its own charge, then the order rolls back
// both branches, newest completion first.
func TestOrderChildFails(t *testing.T) {
	w := &world{}
	env := newEnv(t)
	o := w.order(t)
	o.Register(env)
	s := start(env, 500)
	env.ExecuteWorkflow(o.Workflow, s)
	st := ended(t, env, runtime.StateCompensated)
	got := w.journal()
	s.Reservation, s.Authorization = "res-book+pen", "auth-1"
	var want []string
	for _, b := range rollbacksOfBranches(st.History) {
		want = append(want, undoLine(runID, b, s))
	}
	want = append([]string{"Charge run-1@Bill/Charge", "fail Confirm run-1@Bill/Confirm", "Uncharge ch-500 run-1@Bill/Charge/rollback"}, want...)
	if d := cmp.Diff(want, got[2:]); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	e := st.History[6]
	if e.From != "Bill:waiting" || e.To != "failing" || e.Child == nil ||
		e.Error != `child run "run-1@Bill" of flow "Billing" ended compensated: step Confirm: over the limit` {
		t.Errorf("the call's end %+v", e)
	}
}

// An abort while the child sleeps aborts the child, which uncharges,
// before the order rolls back its branches; both end aborted.
func TestOrderAbortDuringChild(t *testing.T) {
	w := &world{}
	env := newEnv(t)
	o := w.order(t)
	o.Register(env)
	env.RegisterDelayedCallback(env.CancelWorkflow, 30*time.Minute)
	env.ExecuteWorkflow(o.Workflow, start(env, 40))
	st := ended(t, env, runtime.StateAborted)
	got := w.journal()
	if len(got) != 6 || got[3] != "Uncharge ch-40 run-1@Bill/Charge/rollback" {
		t.Fatalf("journal %q: want the uncharge before the order's rollbacks", got)
	}
	if h := w.sink.History("run-1@Bill"); h[len(h)-1].To != "aborted" {
		t.Errorf("child ended %s", h[len(h)-1].To)
	}
	if e := st.History[6]; e.From != "Bill:waiting" || e.To != "aborting" || e.Child == nil {
		t.Errorf("the abort %+v", e)
	}
}

// A failure after the call rolls it back with its rollback call: a child
// run of Refund on the receipt.
func TestOrderShipFails(t *testing.T) {
	w := &world{shipFail: true}
	env := newEnv(t)
	o := w.order(t)
	o.Register(env)
	s := start(env, 40)
	env.ExecuteWorkflow(o.Workflow, s)
	st := ended(t, env, runtime.StateCompensated)
	got := w.journal()
	if len(got) != 8 || got[4] != "fail Ship run-1/Ship" || got[5] != "PayBack ch-40 run-1@Bill:rollback/PayBack" {
		t.Fatalf("journal %q", got)
	}
	h := transitions(st.History)
	if d := cmp.Diff([]string{"failing>Bill:rollback", "Bill:rollback>failing@run-1@Bill:rollback"}, h[9:11]); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	if refund := w.sink.History("run-1@Bill:rollback"); len(refund) == 0 || refund[len(refund)-1].To != "done" {
		t.Errorf("refund history %+v", refund)
	}
}
