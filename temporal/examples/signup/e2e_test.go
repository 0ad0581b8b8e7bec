package signup

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// These tests run the generated workflows on a real Temporal server,
// started in the process (temporaltest: about 1.5 s to start, no network).

const taskQueue = "flowgen-test"

func startServer(t *testing.T, register func(worker.Registry)) client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t, temporaltest.WithBaseWorkerOptions(flowtemporal.WorkerOptions(worker.Options{})))
	ts.NewWorker(taskQueue, register)
	return ts.GetDefaultClient()
}

// A Signup run through the client API: start, deliver the payment by its
// correlation, wait for the typed result, read the status query.
func TestServerSignupDone(t *testing.T) {
	w := newWorld()
	w.fails["Subscription.Create"] = 1
	f := w.signup(t)
	c := startServer(t, f.Register)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := StartSignup(ctx, c, signupStart, client.StartWorkflowOptions{ID: "signup-1", TaskQueue: taskQueue})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Deliver(ctx, "payments", "payment.succeeded", payment("cus_other")); err != nil {
		t.Fatal(err)
	}
	if err := run.Deliver(ctx, "payments", "payment.succeeded", payment("cus_1")); err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(ctx)
	if err != nil || res.Final != runtime.StateDone || !res.State.Active || res.State.Payment.Cents != 900 {
		t.Fatalf("result %+v, %v", res, err)
	}
	want := []string{
		"Customer.Create signup-1/CreateCustomer",
		"Subscription.Create signup-1/CreateSubscription",
		"Subscription.Create signup-1/CreateSubscription",
	}
	if d := cmp.Diff(want, w.calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	st, err := run.Status(ctx)
	if err != nil || st.State != runtime.StateDone || len(st.History) != 7 {
		t.Fatalf("status %+v, %v", st, err)
	}
	if e := st.History[2]; e.Outcome != runtime.OutcomeRetry || e.Attempt != 1 || e.Error != "Subscription.Create unavailable" {
		t.Errorf("event 3 is %s #%d %s %q, want CreateSubscription's failed attempt 1", e.To, e.Attempt, e.Outcome, e.Error)
	}
}

// On a real server a timed-out attempt is retried (the test environment
// does not); the timeout outcome routes to Late; Wait returns the runtime's
// result shape, and an abort of a waiting run rolls back and reads aborted.
func TestServerReviewTimeoutAndAbort(t *testing.T) {
	w := newWorld()
	h := &reviewHandlers{verdicts: []ReviewDecideOutcome{ReviewDecideOutcomeApprove}, slow: time.Hour}
	review := w.review(t, h)
	signup := w.signup(t)
	c := startServer(t, func(r worker.Registry) { review.Register(r); signup.Register(r) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	run, err := StartReview(ctx, c, ReviewState{WakeAt: time.Now()}, client.StartWorkflowOptions{ID: "review-1", TaskQueue: taskQueue})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(ctx)
	var se *runtime.StepError
	if res.Final != runtime.StateCompensated || !errors.As(err, &se) || se.Step != "Late" || se.Outcome != runtime.OutcomeOK {
		t.Fatalf("result %+v, %v", res, err)
	}
	finishes := 0
	for _, c := range w.calls() {
		if c == "Finish review-1/Finish" {
			finishes++
		}
	}
	if finishes != 2 {
		t.Errorf("Finish ran %d times, want 2 (retry 2, each past its 2s timeout)", finishes)
	}

	srun, err := StartSignup(ctx, c, signupStart, client.StartWorkflowOptions{ID: "signup-abort", TaskQueue: taskQueue})
	if err != nil {
		t.Fatal(err)
	}
	for {
		st, err := srun.Status(ctx)
		if err == nil && st.Machine == runtime.WaitingState("AwaitPayment") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srun.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	res2, err := srun.Wait(ctx)
	if res2.Final != runtime.StateAborted || !errors.Is(err, runtime.ErrAborted) {
		t.Fatalf("aborted run: %+v, %v", res2, err)
	}
	if calls := w.calls(); calls[len(calls)-1] != "Customer.Delete signup-abort/CreateCustomer/rollback" {
		t.Errorf("the abort did not roll back: %q", calls)
	}

	// Abort answers as the runtime's (runtime.Run.Abort): a run that is
	// over is ErrFinished, though Temporal takes the cancellation of an
	// ended workflow as done; an ID no run has is ErrUnknownRun.
	if err := srun.Abort(ctx); !errors.Is(err, runtime.ErrFinished) {
		t.Errorf("abort of an aborted run: %v, want runtime.ErrFinished", err)
	}
	if err := run.Abort(ctx); !errors.Is(err, runtime.ErrFinished) {
		t.Errorf("abort of a compensated run: %v, want runtime.ErrFinished", err)
	}
	none := flowtemporal.Attach[SignupState](c, "no-such-run")
	if err := none.Abort(ctx); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("abort of no run: %v, want runtime.ErrUnknownRun", err)
	}
	// So do the handle's other readers, as the runtime's Flow.Status.
	if _, err := none.Status(ctx); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("status of no run: %v, want runtime.ErrUnknownRun", err)
	}
	if _, err := none.History(ctx); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("history of no run: %v, want runtime.ErrUnknownRun", err)
	}
	if _, err := none.Wait(ctx); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("wait for no run: %v, want runtime.ErrUnknownRun", err)
	}
}
