package signup

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
	"github.com/flowgen/flowgen/temporal/internal/twoforms"
)

// The generated file has both forms of each flow: NewSignupFlow runs it on
// the flowgen runtime, NewSignupTemporal as a Temporal workflow. These
// tests run each script on both (Temporal on a real server) with the same
// handlers and fake services, and require the same calls, publications,
// history, final state, terminal state and error. A script that needs a
// long timer (the await's 72h) is left to the test environment's tests.

// form runs a script on one form of a flow with state S: it builds the
// world's flow, starts run id and hands the run to drive.
type form[S any] func(t *testing.T, ctx context.Context, id string, setup func(*world), drive func(context.Context, twoforms.Handle[S])) twoforms.Observed[S]

func localSignup(t *testing.T, ctx context.Context, id string, setup func(*world), drive func(context.Context, twoforms.Handle[SignupState])) twoforms.Observed[SignupState] {
	w := newWorld()
	setup(w)
	inbox := runtime.NewMemoryBus() // what the script delivers, apart from what the run publishes
	f, err := NewSignupFlow(signupHandlers{w.handlers(), w}, SignupServicesFromCaller(w.caller),
		runtime.WithPublisher(w.bus), runtime.WithSubscriber(inbox), runtime.WithSink(w.sink))
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Start(ctx, signupStart, runtime.WithRunID(id))
	if err != nil {
		t.Fatal(err)
	}
	h := twoforms.Local(r, inbox)
	drive(ctx, h)
	return twoforms.Observe(t, ctx, h, w.calls, w.bus.Published)
}

func temporalSignup(ts *temporaltest.TestServer) form[SignupState] {
	return func(t *testing.T, ctx context.Context, id string, setup func(*world), drive func(context.Context, twoforms.Handle[SignupState])) twoforms.Observed[SignupState] {
		w := newWorld()
		setup(w)
		f := w.signup(t)
		ts.NewWorker(id, f.Register) // a queue of its own, served by this world's handlers
		run, err := StartSignup(ctx, ts.GetDefaultClient(), signupStart, client.StartWorkflowOptions{ID: id, TaskQueue: id})
		if err != nil {
			t.Fatal(err)
		}
		drive(ctx, run)
		return twoforms.Observe(t, ctx, run, w.calls, w.bus.Published)
	}
}

func localReview(h *reviewHandlers, start ReviewState) form[ReviewState] {
	return func(t *testing.T, ctx context.Context, id string, setup func(*world), drive func(context.Context, twoforms.Handle[ReviewState])) twoforms.Observed[ReviewState] {
		w := newWorld()
		setup(w)
		h.w = w
		f, err := NewReviewFlow(h, runtime.WithSink(w.sink))
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.Start(ctx, start, runtime.WithRunID(id))
		if err != nil {
			t.Fatal(err)
		}
		run := twoforms.Local(r, w.bus)
		drive(ctx, run)
		return twoforms.Observe(t, ctx, run, w.calls, w.bus.Published)
	}
}

func temporalReview(ts *temporaltest.TestServer, h *reviewHandlers, start ReviewState) form[ReviewState] {
	return func(t *testing.T, ctx context.Context, id string, setup func(*world), drive func(context.Context, twoforms.Handle[ReviewState])) twoforms.Observed[ReviewState] {
		w := newWorld()
		setup(w)
		f := w.review(t, h)
		ts.NewWorker(id, f.Register)
		run, err := StartReview(ctx, ts.GetDefaultClient(), start, client.StartWorkflowOptions{ID: id, TaskQueue: id})
		if err != nil {
			t.Fatal(err)
		}
		drive(ctx, run)
		return twoforms.Observe(t, ctx, run, w.calls, w.bus.Published)
	}
}

// same runs a script on both forms, one after the other (each with a run
// ID of its own, so both can live on one server), and compares them.
func same[S any](t *testing.T, local, temporal form[S], setup func(*world), drive func(*testing.T, context.Context, twoforms.Handle[S]), final runtime.RunState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(f form[S], id string) twoforms.Observed[S] {
		return f(t, ctx, id, setup, func(ctx context.Context, h twoforms.Handle[S]) { drive(t, ctx, h) })
	}
	// One run ID for both, so that the idempotency keys the services see
	// compare: the runtime's run lives in its own memory sink.
	id := twoforms.RunID(t)
	got, want := run(temporal, id), run(local, id)
	if got.Final != final {
		t.Errorf("the run ended %s, want %s (%s)", got.Final, final, got.Err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the Temporal form differs from the runtime form (-runtime +temporal):\n%s", d)
	}
}

func nothing(*world) {}

func nothingToDo[S any](*testing.T, context.Context, twoforms.Handle[S]) {}

// paid delivers a payment of another customer, then the run's own, once
// the run waits.
func paid(t *testing.T, ctx context.Context, h twoforms.Handle[SignupState]) {
	twoforms.WaitFor(t, ctx, h, runtime.WaitingState("AwaitPayment"))
	for _, customer := range []string{"cus_other", "cus_1"} {
		if err := h.Deliver(ctx, "payments", "payment.succeeded", payment(customer)); err != nil {
			t.Fatal(err)
		}
	}
}

// abortWhen aborts the run once its machine is in state machine.
func abortWhen[S any](machine string) func(*testing.T, context.Context, twoforms.Handle[S]) {
	return func(t *testing.T, ctx context.Context, h twoforms.Handle[S]) {
		twoforms.WaitFor(t, ctx, h, machine)
		if err := h.Abort(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSignupFormsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	local, temporal := localSignup, temporalSignup(ts)
	waiting := runtime.WaitingState("AwaitPayment")
	t.Run("retried then paid", func(t *testing.T) {
		same(t, local, temporal, func(w *world) { w.fails["Customer.Create"] = 2 }, paid, runtime.StateDone)
	})
	t.Run("refused for good", func(t *testing.T) {
		same(t, local, temporal, func(w *world) { w.permanent["Subscription.Create"] = true }, nothingToDo, runtime.StateCompensated)
	})
	t.Run("retries exhausted", func(t *testing.T) {
		same(t, local, temporal, func(w *world) { w.fails["Customer.Create"] = -1 }, nothingToDo, runtime.StateFailed)
	})
	t.Run("rollback keeps failing", func(t *testing.T) {
		same(t, local, temporal, func(w *world) {
			w.permanent["Subscription.Create"] = true
			w.fails["Customer.Delete"] = -1
		}, nothingToDo, runtime.StateCompensationFailed)
	})
	t.Run("aborted while waiting", func(t *testing.T) {
		same(t, local, temporal, func(w *world) { w.fails["CancelSubscription"] = 1 }, abortWhen[SignupState](waiting), runtime.StateAborted)
	})
}

func TestReviewFormsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	now := time.Now().UTC().Truncate(time.Second)
	forms := func(h func() *reviewHandlers, start ReviewState) (form[ReviewState], form[ReviewState]) {
		return localReview(h(), start), temporalReview(ts, h(), start)
	}
	verdicts := func(v ...ReviewDecideOutcome) func() *reviewHandlers {
		return func() *reviewHandlers { return &reviewHandlers{verdicts: v} }
	}
	t.Run("again then approve", func(t *testing.T) {
		local, temporal := forms(verdicts(ReviewDecideOutcomeAgain, ReviewDecideOutcomeApprove), ReviewState{WakeAt: now})
		same(t, local, temporal, nothing, nothingToDo, runtime.StateDone)
	})
	t.Run("reject", func(t *testing.T) {
		local, temporal := forms(verdicts(ReviewDecideOutcomeAgain, ReviewDecideOutcomeReject), ReviewState{WakeAt: now})
		same(t, local, temporal, nothing, nothingToDo, runtime.StateCompensated)
	})
	t.Run("release keeps failing", func(t *testing.T) {
		local, temporal := forms(verdicts(ReviewDecideOutcomeReject), ReviewState{WakeAt: now})
		same(t, local, temporal, func(w *world) { w.fails["Release"] = -1 }, nothingToDo, runtime.StateCompensationFailed)
	})
	t.Run("too slow", func(t *testing.T) {
		slow := func() *reviewHandlers {
			return &reviewHandlers{verdicts: []ReviewDecideOutcome{ReviewDecideOutcomeApprove}, slow: time.Hour}
		}
		local, temporal := forms(slow, ReviewState{WakeAt: now})
		same(t, local, temporal, nothing, nothingToDo, runtime.StateCompensated)
	})
	t.Run("panics", func(t *testing.T) {
		panics := func() *reviewHandlers {
			return &reviewHandlers{verdicts: []ReviewDecideOutcome{ReviewDecideOutcomeApprove}, panics: true}
		}
		local, temporal := forms(panics, ReviewState{WakeAt: now})
		same(t, local, temporal, nothing, nothingToDo, runtime.StateCompensated)
	})
	t.Run("aborted while sleeping", func(t *testing.T) {
		local, temporal := forms(verdicts(ReviewDecideOutcomeApprove), ReviewState{WakeAt: now.Add(time.Hour)})
		same(t, local, temporal, nothing, abortWhen[ReviewState](runtime.WaitingState("Pause")), runtime.StateAborted)
	})
}
