package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// Retry events on a real server, where Temporal retries an activity out of
// the workflow's sight: every failed attempt is in the run's history with
// its own error, as on the runtime, which runs the same flow. Step Long
// heartbeats (its timeout is past HeartbeatTimeout) and its first attempt
// runs past a heartbeat, so that the record of its failure is held back by
// the SDK's heartbeat batching and must still reach the next attempt; step
// Short's last attempt times out, so the record of the attempt before
// comes back with Temporal's timeout (whose cause is that attempt's
// error); Long's rollback fails once.
func TestRetryEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	want := []string{
		"pending>Long:running #0 : ",
		"Long:running>Long:running #1 retry: Long attempt 1 failed",
		"Long:running>Long:running #2 retry: Long attempt 2 failed",
		"Long:running>Short:running #3 ok: ",
		"Short:running>Short:running #1 retry: Short attempt 1 failed",
		"Short:running>failing #2 timeout: " + runtime.AttemptTimeout(time.Second).Error(),
		"failing>Long:rollback #0 : ",
		"Long:rollback>Long:rollback #1 retry: Long rollback attempt 1 failed",
		"Long:rollback>failing #2 ok: ",
		"failing>compensated #0 : ",
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the runtime's form, meanwhile
		defer wg.Done()
		sink := runtime.NewMemorySink()
		run, err := retriedFlow(t, runtime.WithSink(sink)).Start(ctx, struct{}{}, runtime.WithRunID("retried-1"))
		if err != nil {
			t.Error(err)
			return
		}
		res, err := run.Wait(ctx)
		checkRetried(t, "runtime", res, err, sink.History(run.ID()), want)
	}()
	defer wg.Wait()

	f, err := flowtemporal.New(retriedFlow(t))
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t)
	ts.NewWorker("retried", f.Register)
	run, err := flowtemporal.Start(ctx, ts.GetDefaultClient(), f.ID(), struct{}{}, client.StartWorkflowOptions{ID: "retried-1", TaskQueue: "retried"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(ctx)
	h, herr := run.History(ctx)
	if herr != nil {
		t.Fatal(herr)
	}
	checkRetried(t, "temporal", res, err, h, want)
	for i := 1; i < len(h); i++ {
		if h[i].Time.Before(h[i-1].Time) {
			t.Errorf("temporal: event %d at %v, before event %d at %v", h[i].Seq, h[i].Time, h[i-1].Seq, h[i-1].Time)
		}
	}
}

// retriedFlow is TestRetryEvents's flow: Long fails twice, then Short
// fails once and times out, and Long's rollback fails once.
func retriedFlow(t *testing.T, opts ...runtime.Option) *runtime.Flow[struct{}] {
	t.Helper()
	def := runtime.New[struct{}]("Retried", opts...)
	attemptErr := func(step string, ctx context.Context) error {
		return fmt.Errorf("%s attempt %d failed", step, runtime.Attempt(ctx))
	}
	err := def.Register(
		runtime.NewStep("Long", func(ctx context.Context, _ *struct{}) (runtime.Outcome, error) {
			switch runtime.Attempt(ctx) {
			case 1:
				time.Sleep(flowtemporal.HeartbeatTimeout/4 + 500*time.Millisecond) // past the first heartbeat
				return "", attemptErr("Long", ctx)
			case 2:
				return "", attemptErr("Long", ctx)
			}
			return runtime.OutcomeOK, nil
		}, runtime.WithTimeout[struct{}](time.Minute),
			runtime.WithRetry[struct{}](runtime.RetryPolicy{Attempts: 3, Initial: 10 * time.Millisecond}),
			runtime.WithRollback(func(ctx context.Context, _ *struct{}) error {
				if runtime.Attempt(ctx) == 1 {
					return attemptErr("Long rollback", ctx)
				}
				return nil
			}),
			runtime.WithRollbackRetry[struct{}](runtime.RetryPolicy{Attempts: 2, Initial: 10 * time.Millisecond})),
		runtime.NewStep("Short", func(ctx context.Context, _ *struct{}) (runtime.Outcome, error) {
			if runtime.Attempt(ctx) == 1 {
				return "", attemptErr("Short", ctx)
			}
			<-ctx.Done()
			time.Sleep(100 * time.Millisecond) // Temporal has timed the attempt out meanwhile
			return "", ctx.Err()
		}, runtime.WithTimeout[struct{}](time.Second),
			runtime.WithRetry[struct{}](runtime.RetryPolicy{Attempts: 2, Initial: 10 * time.Millisecond})),
	)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func checkRetried(t *testing.T, form string, res runtime.Result[struct{}], err error, h []runtime.Event, want []string) {
	t.Helper()
	if res.Final != runtime.StateCompensated || !errors.Is(err, runtime.ErrTimeout) {
		t.Errorf("%s: result %+v, %v; want compensated by Short's timeout", form, res, err)
	}
	checkHistory(t, form, h, want)
}

// checkHistory compares h, as "from>to #attempt outcome: error" lines, with
// want.
func checkHistory(t *testing.T, form string, h []runtime.Event, want []string) {
	t.Helper()
	var got []string
	for _, e := range h {
		got = append(got, fmt.Sprintf("%s>%s #%d %s: %s", e.From, e.To, e.Attempt, e.Outcome, e.Error))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: history (-want +got):\n%s", form, d)
	}
}

// Retry events as they happen: while a step's next attempt waits out its
// backoff, the run's status on Temporal shows the attempts that failed
// (the activity signals each), as on the runtime; an abort in that backoff
// keeps them in the history on both.
func TestRetryEventsLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	flow := func(opts ...runtime.Option) *runtime.Flow[struct{}] {
		def := runtime.New[struct{}]("Live", opts...)
		err := def.Register(
			runtime.NewStep("A", func(context.Context, *struct{}) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
				runtime.WithRollback(func(context.Context, *struct{}) error { return nil })),
			runtime.NewStep("B", func(ctx context.Context, _ *struct{}) (runtime.Outcome, error) {
				return "", fmt.Errorf("B attempt %d failed", runtime.Attempt(ctx))
			}, runtime.WithTimeout[struct{}](time.Second),
				// Attempt 3 comes 2s + 4s after attempt 1: time to look.
				runtime.WithRetry[struct{}](runtime.RetryPolicy{Attempts: 5, Initial: 2 * time.Second})),
		)
		if err != nil {
			t.Fatal(err)
		}
		return def
	}
	want := []string{
		"pending>A:running #0 : ",
		"A:running>B:running #1 ok: ",
		"B:running>B:running #1 retry: B attempt 1 failed",
		"B:running>B:running #2 retry: B attempt 2 failed",
		"B:running>aborting #0 : " + runtime.ErrAborted.Error(),
		"aborting>A:rollback #0 : ",
		"A:rollback>aborting #1 ok: ",
		"aborting>aborted #0 : ",
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	backingOff := func(st runtime.Status) bool {
		return st.Machine == runtime.RunningState("B") && st.Attempt == 3 && st.Err == "B attempt 2 failed"
	}

	f, err := flowtemporal.New(flow())
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t)
	ts.NewWorker("live", f.Register)
	run, err := flowtemporal.Start(ctx, ts.GetDefaultClient(), f.ID(), struct{}{}, client.StartWorkflowOptions{ID: "live-1", TaskQueue: "live"})
	if err != nil {
		t.Fatal(err)
	}
	// The runtime's run starts with Temporal's, so that both are in the
	// same 4s backoff when the test looks.
	sink := runtime.NewMemorySink()
	local, err := flow(runtime.WithSink(sink)).Start(ctx, struct{}{}, runtime.WithRunID("live-1"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		st, err := run.Status(ctx)
		lst := local.Status()
		if err == nil && backingOff(st) && backingOff(lst) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the status never showed attempt 3 pending after attempt 2 failed: temporal %+v (%v), runtime %s #%d %q",
				st, err, lst.Machine, lst.Attempt, lst.Err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := run.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if err := local.Abort(); err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(ctx)
	h, herr := run.History(ctx)
	if herr != nil {
		t.Fatal(herr)
	}
	if res.Final != runtime.StateAborted {
		t.Errorf("temporal: %s (%v)", res.Final, err)
	}
	checkHistory(t, "temporal", h, want)
	lres, _ := local.Wait(ctx)
	if lres.Final != runtime.StateAborted {
		t.Errorf("runtime: %s", lres.Final)
	}
	checkHistory(t, "runtime", sink.History("live-1"), want)
}
