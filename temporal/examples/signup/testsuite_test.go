package signup

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
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
// (time skips; the activities run for real), one semantic each. e2e_test.go
// runs them on a real server.

const runID = "run-1"

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: runID})
	return env
}

func query[T any](t *testing.T, env *testsuite.TestWorkflowEnvironment, name string) T {
	t.Helper()
	v, err := env.QueryWorkflow(name)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	var out T
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// ending returns the final state of a run that did not end done, with the
// application error type the workflow failed with ("" for a cancellation).
func endState(t *testing.T, env *testsuite.TestWorkflowEnvironment) (runtime.RunState, string) {
	t.Helper()
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
		return runtime.StateDone, ""
	case errors.As(err, &app):
		return query[runtime.Status](t, env, flowtemporal.QueryStatus).State, app.Type()
	case errors.As(err, &canceled):
		return query[runtime.Status](t, env, flowtemporal.QueryStatus).State, ""
	}
	t.Fatalf("workflow error %v is no run's end", err)
	return "", ""
}

func payment(customer string) []byte {
	b, _ := json.Marshal(Payment{CustomerID: customer, Cents: 900})
	return b
}

var signupStart = SignupState{Customer: Customer{Name: "Ada"}, Plan: "pro"}

// Retries and the idempotency key: Customer.Create fails twice and
// succeeds on its third attempt, all three with the same key; the await
// takes only the payment whose correlation is the run's customer; the
// publication goes out; the run ends done and its history and status are
// readable through the queries and the sink.
func TestSignupDone(t *testing.T) {
	w := newWorld()
	w.fails["Customer.Create"] = 2
	env := newEnv(t)
	f := w.signup(t)
	f.Register(env)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(flowtemporal.SignalName("payments", "payment.succeeded"), payment("cus_other"))
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(flowtemporal.SignalName("payments", "payment.succeeded"), payment("cus_1"))
	}, 2*time.Hour)
	env.ExecuteWorkflow(f.Workflow, signupStart)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var final SignupState
	if err := env.GetWorkflowResult(&final); err != nil {
		t.Fatal(err)
	}
	if !final.Active || final.CustomerID != "cus_1" || final.SubscriptionID != "sub_1" || final.Payment.Cents != 900 {
		t.Errorf("final state %+v", final)
	}
	wantCalls := []string{
		"Customer.Create run-1/CreateCustomer",
		"Customer.Create run-1/CreateCustomer",
		"Customer.Create run-1/CreateCustomer",
		"Subscription.Create run-1/CreateSubscription",
	}
	if d := cmp.Diff(wantCalls, w.calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	if pub := w.bus.Published(); len(pub) != 1 || pub[0].Event != "subscription.created" || string(pub[0].Payload) != `"sub_1"` {
		t.Errorf("published %+v", pub)
	}
	history := query[[]runtime.Event](t, env, flowtemporal.QueryHistory)
	want := []string{
		"pending>CreateCustomer:running",
		"CreateCustomer:running>CreateCustomer:running", // its failed attempts, as on the runtime
		"CreateCustomer:running>CreateCustomer:running",
		"CreateCustomer:running>CreateSubscription:running",
		"CreateSubscription:running>AwaitPayment:waiting",
		"AwaitPayment:waiting>AwaitPayment:running",
		"AwaitPayment:running>Activate:running",
		"Activate:running>done",
	}
	if d := cmp.Diff(want, transitions(history)); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	for i, e := range history[1:4] {
		if e.Attempt != i+1 || (i < 2) != (e.Outcome == runtime.OutcomeRetry && e.Error == "Customer.Create unavailable") {
			t.Errorf("CreateCustomer's event %d: attempt %d, %s: %q; want attempt %d, retries before the last", i+1, e.Attempt, e.Outcome, e.Error, i+1)
		}
	}
	if wt := history[4].Wait; wt == nil || wt.Correlation != "cus_1" || wt.Deadline.IsZero() {
		t.Errorf("wait %+v", wt)
	}
	st := query[runtime.Status](t, env, flowtemporal.QueryStatus)
	if st.State != runtime.StateDone || st.RunID != runID {
		t.Errorf("status %+v", st)
	}
	if d := cmp.Diff(history, w.sink.History(runID)); d != "" {
		t.Errorf("the sink saw other events than the history query (-query +sink):\n%s", d)
	}
}

// The await's timeout is a timer: no payment in 72h routes to ExpireTrial,
// which fails the run, and the completed steps roll back newest first.
func TestSignupAwaitTimeoutCompensates(t *testing.T) {
	w := newWorld()
	env := newEnv(t)
	f := w.signup(t)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, signupStart)
	state, typ := endState(t, env)
	if state != runtime.StateCompensated || typ != "flowgen.compensated" {
		t.Fatalf("ended %s (%s), want compensated", state, typ)
	}
	wantCalls := []string{
		"Customer.Create run-1/CreateCustomer",
		"Subscription.Create run-1/CreateSubscription",
		"CancelSubscription run-1/CreateSubscription/rollback",
		"Customer.Delete run-1/CreateCustomer/rollback",
	}
	if d := cmp.Diff(wantCalls, w.calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	history := query[[]runtime.Event](t, env, flowtemporal.QueryHistory)
	want := []string{
		"pending>CreateCustomer:running",
		"CreateCustomer:running>CreateSubscription:running",
		"CreateSubscription:running>AwaitPayment:waiting",
		"AwaitPayment:waiting>ExpireTrial:running",
		"ExpireTrial:running>failing",
		"failing>CreateSubscription:rollback",
		"CreateSubscription:rollback>failing",
		"failing>CreateCustomer:rollback",
		"CreateCustomer:rollback>failing",
		"failing>compensated",
	}
	if d := cmp.Diff(want, transitions(history)); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	if history[3].Outcome != runtime.OutcomeTimeout {
		t.Errorf("the wait ended %q, want timeout", history[3].Outcome)
	}
	if got := history[3].Time.Sub(history[2].Time); got != 72*time.Hour {
		t.Errorf("the wait timed out after %v, want 72h", got)
	}
}

// Abort is a cancellation: cancelled while it waits, the run rolls back
// its completed steps in a disconnected context and ends aborted, which
// Temporal shows as canceled.
func TestSignupAbortWhileWaiting(t *testing.T) {
	w := newWorld()
	env := newEnv(t)
	f := w.signup(t)
	f.Register(env)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	env.ExecuteWorkflow(f.Workflow, signupStart)
	state, typ := endState(t, env)
	if state != runtime.StateAborted || typ != "" {
		t.Fatalf("ended %s (%s), want aborted as a cancellation", state, typ)
	}
	wantCalls := []string{
		"Customer.Create run-1/CreateCustomer",
		"Subscription.Create run-1/CreateSubscription",
		"CancelSubscription run-1/CreateSubscription/rollback",
		"Customer.Delete run-1/CreateCustomer/rollback",
	}
	if d := cmp.Diff(wantCalls, w.calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	history := query[[]runtime.Event](t, env, flowtemporal.QueryHistory)
	if got := transitions(history)[3]; got != "AwaitPayment:waiting>aborting" {
		t.Errorf("event 4 is %s, want the abort of the wait", got)
	}
}

// A publication is part of its step's attempt (docs/temporal.md, publish):
// one that fails fails the attempt, which Temporal retries whole, the rpc
// again with the same key, and the retry publishes.
func TestSignupPublicationFailsAttempt(t *testing.T) {
	w := newWorld()
	env := newEnv(t)
	pub := &failingPublisher{Publisher: w.bus, fails: 1}
	f, err := NewSignupTemporal(signupHandlers{w.handlers(), w}, SignupServicesFromCaller(w.caller),
		runtime.WithPublisher(pub), runtime.WithSink(w.sink))
	if err != nil {
		t.Fatal(err)
	}
	f.Register(env)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(flowtemporal.SignalName("payments", "payment.succeeded"), payment("cus_1"))
	}, time.Hour)
	env.ExecuteWorkflow(f.Workflow, signupStart)
	if state, _ := endState(t, env); state != runtime.StateDone {
		t.Fatalf("ended %s, want done", state)
	}
	wantCalls := []string{
		"Customer.Create run-1/CreateCustomer",
		"Subscription.Create run-1/CreateSubscription",
		"Subscription.Create run-1/CreateSubscription",
	}
	if d := cmp.Diff(wantCalls, w.calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	if p := w.bus.Published(); len(p) != 1 || p[0].Event != "subscription.created" {
		t.Errorf("published %+v, want subscription.created once", p)
	}
	history := query[[]runtime.Event](t, env, flowtemporal.QueryHistory)
	if e := history[2]; e.To != "CreateSubscription:running" || e.Outcome != runtime.OutcomeRetry || !strings.Contains(e.Error, "broker down") {
		t.Errorf("event 3 %s -> %s (%s, %q), want CreateSubscription's attempt failed by its publication", e.From, e.To, e.Outcome, e.Error)
	}
}

// On Temporal the sink observes (docs/temporal.md, "The sink"): one that
// refuses every event is logged and the run goes on to done, its history
// still readable through the query.
func TestSignupSinkErrorDoesNotStopRun(t *testing.T) {
	w := newWorld()
	env := newEnv(t)
	var refused atomic.Int32
	sink := runtime.SinkFunc(func(context.Context, runtime.Event) error {
		refused.Add(1)
		return errors.New("sink down")
	})
	f, err := NewSignupTemporal(signupHandlers{w.handlers(), w}, SignupServicesFromCaller(w.caller),
		runtime.WithPublisher(w.bus), runtime.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	f.Register(env)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(flowtemporal.SignalName("payments", "payment.succeeded"), payment("cus_1"))
	}, time.Hour)
	env.ExecuteWorkflow(f.Workflow, signupStart)
	if state, _ := endState(t, env); state != runtime.StateDone {
		t.Fatalf("ended %s, want done", state)
	}
	history := query[[]runtime.Event](t, env, flowtemporal.QueryHistory)
	if n := int(refused.Load()); n != len(history) || n == 0 {
		t.Errorf("the sink refused %d events of a history of %d; want each offered once", n, len(history))
	}
}

// failingPublisher fails its first fails publications, then publishes.
type failingPublisher struct {
	runtime.Publisher
	mu    sync.Mutex
	fails int
}

func (p *failingPublisher) Publish(ctx context.Context, topic, event string, payload any) error {
	p.mu.Lock()
	fail := p.fails > 0
	p.fails--
	p.mu.Unlock()
	if fail {
		return errors.New("broker down")
	}
	return p.Publisher.Publish(ctx, topic, event, payload)
}

// An error marked runtime.Permanent is not retried: the step fails on its
// first attempt and the completed steps roll back.
func TestSignupPermanentErrorNotRetried(t *testing.T) {
	w := newWorld()
	w.permanent["Subscription.Create"] = true
	env := newEnv(t)
	f := w.signup(t)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, signupStart)
	state, _ := endState(t, env)
	if state != runtime.StateCompensated {
		t.Fatalf("ended %s, want compensated", state)
	}
	wantCalls := []string{
		"Customer.Create run-1/CreateCustomer",
		"Subscription.Create run-1/CreateSubscription",
		"Customer.Delete run-1/CreateCustomer/rollback",
	}
	if d := cmp.Diff(wantCalls, w.calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	st := query[runtime.Status](t, env, flowtemporal.QueryStatus)
	if st.Step != "CreateSubscription" || !strings.Contains(st.Err, "refused for good") {
		t.Errorf("status names step %q, error %q", st.Step, st.Err)
	}
}

// A rollback that keeps failing is retried by its own policy, the others
// are still tried, and the run ends compensation_failed.
func TestSignupRollbackKeepsFailing(t *testing.T) {
	w := newWorld()
	w.fails["CancelSubscription"] = -1
	env := newEnv(t)
	f := w.signup(t)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, signupStart)
	state, typ := endState(t, env)
	if state != runtime.StateCompensationFailed || typ != "flowgen.compensation_failed" {
		t.Fatalf("ended %s (%s), want compensation_failed", state, typ)
	}
	calls := w.calls()
	cancels := 0
	for _, c := range calls {
		if c == "CancelSubscription run-1/CreateSubscription/rollback" {
			cancels++
		}
	}
	if cancels != 3 || calls[len(calls)-1] != "Customer.Delete run-1/CreateCustomer/rollback" {
		t.Errorf("calls %q: want 3 attempts of CancelSubscription (the flow's retry 3), then Customer.Delete", calls)
	}
}

// Named outcomes route: "again" loops back to Decide (a second visit, its
// own key), "approve" goes on; the sleep until WakeAt is a timer; Finish's
// attempts time out (StartToClose), and its "timeout" outcome goes to Late,
// which fails the run: both visits of Decide and Reserve roll back.
func TestReviewOutcomesSleepTimeout(t *testing.T) {
	w := newWorld()
	h := &reviewHandlers{verdicts: []ReviewDecideOutcome{ReviewDecideOutcomeAgain, ReviewDecideOutcomeApprove}, slow: time.Hour}
	env := newEnv(t)
	f := w.review(t, h)
	f.Register(env)
	start := env.Now()
	env.ExecuteWorkflow(f.Workflow, ReviewState{WakeAt: start.Add(24 * time.Hour)})
	state, _ := endState(t, env)
	if state != runtime.StateCompensated {
		t.Fatalf("ended %s, want compensated", state)
	}
	wantCalls := []string{
		"Reserve run-1/Reserve",
		"Decide run-1/Decide",
		"Decide run-1/Decide#2",
		// One attempt: the SDK's test environment does not retry an
		// attempt that ran past StartToClose; a real server does, and
		// e2e_test.go checks both attempts there.
		"Finish run-1/Finish",
		"Late run-1/Late",
		"Undecide run-1/Decide#2/rollback",
		"Undecide run-1/Decide/rollback",
		"Release run-1/Reserve/rollback",
	}
	if d := cmp.Diff(wantCalls, w.calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	history := query[[]runtime.Event](t, env, flowtemporal.QueryHistory)
	want := []string{
		"pending>Reserve:running",
		"Reserve:running>Decide:running",
		"Decide:running>Decide:running",
		"Decide:running>Pause:waiting",
		"Pause:waiting>Pause:running",
		"Pause:running>Finish:running",
		"Finish:running>Late:running",
		"Late:running>failing",
		"failing>Decide:rollback",
		"Decide:rollback>failing",
		"failing>Decide:rollback",
		"Decide:rollback>failing",
		"failing>Reserve:rollback",
		"Reserve:rollback>failing",
		"failing>compensated",
	}
	if d := cmp.Diff(want, transitions(history)); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	if history[2].Outcome != "again" || history[3].Outcome != "approve" || history[6].Outcome != runtime.OutcomeTimeout {
		t.Errorf("outcomes %q %q %q", history[2].Outcome, history[3].Outcome, history[6].Outcome)
	}
	if woke := history[4].Time; woke.Before(start.Add(24 * time.Hour)) {
		t.Errorf("the sleep woke at %v, before WakeAt %v", woke, start.Add(24*time.Hour))
	}
}

// "reject" routes to fail; a panic in a step is an error, retried and then
// the outcome "error", never a crash of the worker.
func TestReviewRejectAndPanic(t *testing.T) {
	t.Run("reject", func(t *testing.T) {
		w := newWorld()
		env := newEnv(t)
		f := w.review(t, &reviewHandlers{verdicts: []ReviewDecideOutcome{ReviewDecideOutcomeReject}})
		f.Register(env)
		env.ExecuteWorkflow(f.Workflow, ReviewState{})
		if state, _ := endState(t, env); state != runtime.StateCompensated {
			t.Fatalf("ended %s", state)
		}
		st := query[runtime.Status](t, env, flowtemporal.QueryStatus)
		if !strings.Contains(st.Err, "routed to fail") {
			t.Errorf("status error %q", st.Err)
		}
	})
	t.Run("panic", func(t *testing.T) {
		w := newWorld()
		env := newEnv(t)
		f := w.review(t, &reviewHandlers{verdicts: []ReviewDecideOutcome{ReviewDecideOutcomeApprove}, panics: true})
		f.Register(env)
		env.ExecuteWorkflow(f.Workflow, ReviewState{WakeAt: env.Now()})
		if state, _ := endState(t, env); state != runtime.StateCompensated {
			t.Fatalf("ended %s", state)
		}
		history := query[[]runtime.Event](t, env, flowtemporal.QueryHistory)
		var finish runtime.Event
		for _, e := range history {
			if e.From == "Finish:running" {
				finish = e
			}
		}
		if finish.To != "failing" || finish.Outcome != runtime.OutcomeError || finish.Attempt != 2 || !strings.Contains(finish.Error, "finish exploded") {
			t.Errorf("Finish ended %+v", finish)
		}
	})
}

// The options of a flow moved from the runtime, passed as they were: a
// Subscriber (runtime.WithSubscriber) would never be asked on Temporal,
// where an await is a signal (Run.Deliver), so events published on it
// would never wake a run. NewSignupTemporal refuses it, saying so, instead
// of building a worker whose awaits only time out.
func TestSignupTemporalRefusesSubscriber(t *testing.T) {
	w := newWorld()
	_, err := NewSignupTemporal(signupHandlers{w.handlers(), w}, SignupServicesFromCaller(w.caller),
		runtime.WithPublisher(w.bus), runtime.WithSubscriber(w.bus), runtime.WithSink(w.sink))
	if err == nil || !strings.Contains(err.Error(), "runtime.WithSubscriber") || !strings.Contains(err.Error(), "Deliver") {
		t.Fatalf("NewSignupTemporal with a Subscriber: %v, want a refusal naming runtime.WithSubscriber and Deliver", err)
	}
}
