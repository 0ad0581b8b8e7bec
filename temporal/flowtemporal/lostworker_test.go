package flowtemporal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// lost is the state of the flow of TestLostWorkerRunsTheAttemptAgain.
type lost struct {
	Fail  bool // Check fails, so Reserve is rolled back
	Honor bool // on the worker that stops, Slow returns when its context ends
	Slow  string
}

// A step or a rollback whose last attempt (the only one under the default
// policy) loses its worker runs that attempt again on another, with the
// same idempotency key and attempt number, as the runtime's Resume runs the
// attempt a crash cut: the step does not fail, the run does not
// compensate, and a rollback does not leave it compensation_failed. Before,
// Temporal counted the lost attempt as a failed one: with none left, the
// step failed on "Heartbeat timeout" (its worker killed) or on its
// context's end (its worker stopped past its grace). A worker that stops
// (WorkerStopTimeout past) cancels the attempts it runs: here those that
// ignore their context never answer, as a killed worker's, and their
// heartbeats stop; the one that returns then (Honor) is cut.
func TestLostWorkerRunsTheAttemptAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	var j journal
	release := make(chan struct{}) // the attempts on the stopped worker never return before the test ends
	defer close(release)
	flow := func(stops bool) *Flow[lost] {
		def := runtime.New[lost]("Lost")
		must(t, def.Register(
			runtime.NewStep("Reserve", func(ctx context.Context, s *lost) (runtime.Outcome, error) {
				return "", nil
			}, runtime.WithRollback(func(ctx context.Context, s *lost) error {
				j.add("undo Reserve %s a%d", runtime.IdempotencyKey(ctx), runtime.Attempt(ctx))
				if stops {
					<-release
				}
				return nil
			})),
			runtime.NewStep("Slow", func(ctx context.Context, s *lost) (runtime.Outcome, error) {
				j.add("do Slow %s a%d", runtime.IdempotencyKey(ctx), runtime.Attempt(ctx))
				switch {
				case stops && s.Honor:
					<-ctx.Done()
					return "", ctx.Err()
				case stops && !s.Fail:
					<-release
				}
				s.Slow = "done"
				return "", nil
			}, runtime.WithIrreversible[lost]()),
			runtime.NewStep("Check", func(ctx context.Context, s *lost) (runtime.Outcome, error) {
				if s.Fail {
					return "", runtime.Permanent(errors.New("refused"))
				}
				return "", nil
			}, runtime.WithIrreversible[lost]()),
		))
		f, err := New(def)
		must(t, err)
		return f
	}
	// Flaky's attempts 1 and 2 fail, its last (3) loses its worker: the
	// run records the two retries, then attempt 3 again, which completes.
	flaky := func(stops bool) *Flow[lost] {
		def := runtime.New[lost]("Lost3")
		must(t, def.Register(runtime.NewStep("Flaky", func(ctx context.Context, s *lost) (runtime.Outcome, error) {
			n := runtime.Attempt(ctx)
			j.add("do Flaky %s a%d", runtime.IdempotencyKey(ctx), n)
			switch {
			case n < 3:
				return "", errors.New("flaky")
			case stops:
				<-release
			}
			return "", nil
		}, runtime.WithIrreversible[lost](), runtime.WithRetry[lost](runtime.RetryPolicy{Attempts: 3, Initial: 10 * time.Millisecond}))))
		f, err := New(def)
		must(t, err)
		return f
	}
	ts := testserver.New(t)
	c := ts.GetDefaultClient()
	const queue = "lost-worker"
	stopping := worker.New(c, queue, WorkerOptions(worker.Options{WorkerStopTimeout: 10 * time.Millisecond}))
	flow(true).Register(stopping)
	flaky(true).Register(stopping)
	must(t, stopping.Start())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runs := map[string]lost{"in-step": {}, "in-rollback": {Fail: true}, "cut": {Honor: true}}
	started := map[string]*Run[lost]{}
	for id, s := range runs {
		run, err := Start(ctx, c, "Lost", s, client.StartWorkflowOptions{ID: id, TaskQueue: queue})
		must(t, err)
		started[id] = run
	}
	three, err := Start(ctx, c, "Lost3", lost{}, client.StartWorkflowOptions{ID: "third", TaskQueue: queue})
	must(t, err)
	for _, l := range []string{"do Slow in-step/Slow a1", "undo Reserve in-rollback/Reserve/rollback a1", "do Slow cut/Slow a1", "do Flaky third/Flaky a3"} {
		for !slices.Contains(j.get(), l) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	stopping.Stop()
	taking := worker.New(c, queue, WorkerOptions(worker.Options{}))
	flow(false).Register(taking)
	flaky(false).Register(taking)
	must(t, taking.Start())
	defer taking.Stop()

	var wg sync.WaitGroup
	for id, run := range started {
		wg.Go(func() {
			want := runtime.StateDone
			if runs[id].Fail {
				want = runtime.StateCompensated
			}
			res, err := run.Wait(ctx)
			if res.Final != want {
				t.Errorf("%s: ended %s (%v), want %s", id, res.Final, err, want)
			}
			st, err := run.Status(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			for _, e := range st.History {
				if e.Outcome == runtime.OutcomeRetry || (e.Step == "Slow" || e.Step == "Reserve") && e.Attempt > 1 {
					t.Errorf("%s: event %d %s>%s attempt %d %s %q: the lost attempt is not a failed one", id, e.Seq, e.From, e.To, e.Attempt, e.Outcome, e.Error)
				}
			}
		})
	}
	wg.Go(func() {
		if res, err := three.Wait(ctx); res.Final != runtime.StateDone {
			t.Errorf("third: ended %s (%v), want done", res.Final, err)
		}
		st, err := three.Status(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		var got []string
		for _, e := range st.History {
			got = append(got, fmt.Sprintf("%s>%s a%d %s %s", e.From, e.To, e.Attempt, e.Outcome, e.Error))
		}
		want := []string{"pending>Flaky:running a0  ", "Flaky:running>Flaky:running a1 retry flaky",
			"Flaky:running>Flaky:running a2 retry flaky", "Flaky:running>done a3 ok "}
		if !slices.Equal(got, want) {
			t.Errorf("third: history\n%q\nwant\n%q", got, want)
		}
	})
	wg.Wait()
	got := j.get()
	for _, l := range []string{"do Slow in-step/Slow a1", "undo Reserve in-rollback/Reserve/rollback a1", "do Slow cut/Slow a1", "do Flaky third/Flaky a3"} {
		if n := len(slices.DeleteFunc(slices.Clone(got), func(g string) bool { return g != l })); n != 2 {
			t.Errorf("%q %d times, want twice (the lost attempt again, its key and number the same): %q", l, n, got)
		}
	}
}
