package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

func reviewFlow(t *testing.T, rec *recorder, sink runtime.Sink) *runtime.Flow[state] {
	f := runtime.New[state]("review", runtime.WithSink(sink))
	mustRegister(t, f,
		okStep(rec, "Submit"),
		runtime.NewStep("Review", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			rec.add("exec Review", ctx)
			return s.Route, nil
		}, runtime.WithRollback(func(ctx context.Context, s *state) error {
			rec.add("undo Review", ctx)
			return nil
		}),
			runtime.WithNext[state]("approved", "Activate"),
			runtime.WithNext[state]("rejected", runtime.Fail),
			runtime.WithNext[state]("later", "Submit")), // loops back
		okStep(rec, "Skipped"),
		okStep(rec, "Activate", runtime.WithNext[state](runtime.OutcomeOK, runtime.Done)),
		okStep(rec, "Unreached"),
	)
	return f
}

func TestNamedOutcomes(t *testing.T) {
	t.Run("approved skips to Activate, ok -> done", func(t *testing.T) {
		rec := newRecorder()
		f := reviewFlow(t, rec, runtime.NewMemorySink())
		res, err := f.Execute(context.Background(), state{Route: "approved"})
		if err != nil || res.Final != runtime.StateDone {
			t.Fatalf("Execute = %s, %v", res.Final, err)
		}
		if diff := cmp.Diff([]string{"exec Submit", "exec Review", "exec Activate"}, rec.all()); diff != "" {
			t.Errorf("effects (-want +got):\n%s", diff)
		}
	})
	t.Run("rejected -> fail rolls back the deciding step too", func(t *testing.T) {
		rec := newRecorder()
		f := reviewFlow(t, rec, runtime.NewMemorySink())
		res, err := f.Execute(context.Background(), state{Route: "rejected"})
		if !errors.Is(err, runtime.ErrRoutedToFail) || res.Final != runtime.StateCompensated {
			t.Fatalf("Execute = %s, %v", res.Final, err)
		}
		var se *runtime.StepError
		if !errors.As(err, &se) || se.Step != "Review" || se.Outcome != "rejected" {
			t.Errorf("err = %#v", err)
		}
		want := []string{"exec Submit", "exec Review", "undo Review", "undo Submit"}
		if diff := cmp.Diff(want, rec.all()); diff != "" {
			t.Errorf("effects (-want +got):\n%s", diff)
		}
	})
	t.Run("unknown outcome fails the step", func(t *testing.T) {
		rec := newRecorder()
		f := reviewFlow(t, rec, runtime.NewMemorySink())
		res, err := f.Execute(context.Background(), state{Route: "maybe"})
		if !errors.Is(err, runtime.ErrUnknownOutcome) || res.Final != runtime.StateCompensated {
			t.Fatalf("Execute = %s, %v", res.Final, err)
		}
		want := []string{"exec Submit", "exec Review", "undo Submit"}
		if diff := cmp.Diff(want, rec.all()); diff != "" {
			t.Errorf("effects (-want +got):\n%s", diff)
		}
	})
	// The runtime's own outcomes are no step's: "retry" from Exec would
	// record a retry without an error, a history that no Resume reads,
	// and "error" or "timeout" route a failure that never happened.
	for _, out := range []runtime.Outcome{runtime.OutcomeRetry, runtime.OutcomeError, runtime.OutcomeTimeout} {
		t.Run("the outcome "+string(out)+" fails the step", func(t *testing.T) {
			rec := newRecorder()
			sink := runtime.NewMemorySink()
			f := reviewFlow(t, rec, sink)
			res, err := f.Execute(context.Background(), state{Route: string(out)}, runtime.WithRunID("r"))
			if !errors.Is(err, runtime.ErrUnknownOutcome) || res.Final != runtime.StateCompensated {
				t.Fatalf("Execute = %s, %v", res.Final, err)
			}
			want := []string{"exec Submit", "exec Review", "undo Submit"}
			if diff := cmp.Diff(want, rec.all()); diff != "" {
				t.Errorf("effects (-want +got):\n%s", diff)
			}
			if _, err := f.Resume(context.Background(), sink.History("r")); !errors.Is(err, runtime.ErrFinished) {
				t.Errorf("Resume of the history: %v, want ErrFinished (a history it reads)", err)
			}
		})
	}
	t.Run("loop gives each visit its own idempotency key", func(t *testing.T) {
		rec := newRecorder()
		sink := runtime.NewMemorySink()
		f := runtime.New[state]("loop", runtime.WithSink(sink))
		mustRegister(t, f,
			okStep(rec, "Work"),
			runtime.NewStep("Again", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				s.N++
				if s.N < 3 {
					return "again", nil
				}
				return runtime.OutcomeOK, nil
			}, runtime.WithNext[state]("again", "Work")),
			failingStep(rec, "Last", -1, errBoom))
		res, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r"))
		if res.Final != runtime.StateCompensated || !errors.Is(err, errBoom) {
			t.Fatalf("Execute = %s, %v", res.Final, err)
		}
		if diff := cmp.Diff([]string{"r/Work", "r/Work#2", "r/Work#3"}, rec.key["exec Work"]); diff != "" {
			t.Errorf("exec keys (-want +got):\n%s", diff)
		}
		// Three completed visits, undone newest first, each with its own key.
		want := []string{"r/Work#3/rollback", "r/Work#2/rollback", "r/Work/rollback"}
		if diff := cmp.Diff(want, rec.key["undo Work"]); diff != "" {
			t.Errorf("rollback keys (-want +got):\n%s", diff)
		}
		if err := f.CheckHistory(sink.History("r")); err != nil {
			t.Error(err)
		}
	})
	// docs/runtime.md ("Failure and compensation"): a rollback runs on
	// the run's state as it is when it runs, not as its visit left it, so
	// each visit's rollback of a step a loop repeats sees the last visit's
	// fields, and what a rollback changes, the next one sees.
	t.Run("each visit's rollback runs on the run's current state", func(t *testing.T) {
		f := runtime.New[state]("loop")
		var seen []int
		mustRegister(t, f,
			runtime.NewStep("Work", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				s.N++
				return runtime.OutcomeOK, nil
			}, runtime.WithRollback(func(ctx context.Context, s *state) error {
				seen = append(seen, s.N)
				s.Route = "undone"
				return nil
			})),
			runtime.NewStep("Again", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				if s.N < 3 {
					return "again", nil
				}
				return "", runtime.Permanent(errBoom)
			}, runtime.WithNext[state]("again", "Work")))
		res, _ := f.Execute(context.Background(), state{})
		if res.Final != runtime.StateCompensated {
			t.Fatalf("Execute = %s", res.Final)
		}
		if diff := cmp.Diff([]int{3, 3, 3}, seen); diff != "" {
			t.Errorf("N seen by the rollbacks of the three visits (-want +got):\n%s", diff)
		}
		if res.State.Route != "undone" {
			t.Errorf("final state %+v: a rollback's changes are kept", res.State)
		}
	})
	t.Run("error routed to a step", func(t *testing.T) {
		rec := newRecorder()
		f := runtime.New[state]("fallback")
		mustRegister(t, f,
			failingStep(rec, "Try", -1, errBoom, runtime.WithNext[state](runtime.OutcomeError, "Fallback"),
				runtime.WithRollback(func(ctx context.Context, s *state) error { rec.add("undo Try", ctx); return nil })),
			okStep(rec, "Skipped"),
			okStep(rec, "Fallback"))
		res, err := f.Execute(context.Background(), state{})
		if err != nil || res.Final != runtime.StateDone {
			t.Fatalf("Execute = %s, %v", res.Final, err)
		}
		if diff := cmp.Diff([]string{"exec Try", "exec Fallback"}, rec.all()); diff != "" {
			t.Errorf("effects (-want +got):\n%s", diff)
		}
	})
}

func TestRollbackFailure(t *testing.T) {
	for _, abort := range []bool{false, true} {
		name := map[bool]string{false: "after a failure", true: "after an abort"}[abort]
		t.Run(name, func(t *testing.T) {
			rec := newRecorder()
			sink := runtime.NewMemorySink()
			clock := runtime.NewAutoClock(epoch)
			f := runtime.New[state]("rbfail", runtime.WithSink(sink), runtime.WithClock(clock))
			started := make(chan struct{})
			last := failingStep(rec, "D", -1, errBoom)
			if abort {
				last = runtime.NewStep("D", func(ctx context.Context, s *state) (runtime.Outcome, error) {
					close(started)
					<-ctx.Done()
					return "", ctx.Err()
				})
			}
			mustRegister(t, f,
				okStep(rec, "A"),
				runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
					rec.add("exec B", ctx)
					return "", nil
				}, runtime.WithRollback(func(ctx context.Context, s *state) error {
					rec.add("undo B", ctx)
					if ctx.Err() != nil {
						t.Errorf("rollback context already cancelled: %v", ctx.Err())
					}
					return errors.New("cannot delete")
				}), runtime.WithRollbackRetry[state](runtime.RetryPolicy{Attempts: 3, Initial: time.Second})),
				okStep(rec, "C"),
				last)
			run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
			if err != nil {
				t.Fatal(err)
			}
			if abort {
				<-started
				_ = run.Abort()
			}
			res, err := run.Wait(context.Background())
			if res.Final != runtime.StateCompensationFailed {
				t.Fatalf("final = %s (%v), want compensation_failed", res.Final, err)
			}
			var rbe *runtime.RollbackError
			if !errors.As(err, &rbe) || rbe.Step != "B" {
				t.Errorf("err = %v, want a RollbackError naming B", err)
			}
			cause := errBoom
			if abort {
				cause = runtime.ErrAborted
			}
			if !errors.Is(err, cause) {
				t.Errorf("err = %v, want it to keep the cause %v", err, cause)
			}
			// C and A are still undone; B is tried 3 times.
			want := []string{"undo C", "undo B", "undo B", "undo B", "undo A"}
			if diff := cmp.Diff(want, rec.filter("undo")); diff != "" {
				t.Errorf("rollbacks (-want +got):\n%s", diff)
			}
			var named []runtime.Event
			for _, e := range sink.History("r") {
				if e.From == "B:rollback" && e.Outcome == runtime.OutcomeError {
					named = append(named, e)
				}
			}
			if len(named) != 1 || named[0].Step != "B" || !strings.Contains(named[0].Error, "cannot delete") || named[0].Attempt != 3 {
				t.Errorf("events naming the failed rollback: %+v", named)
			}
			st, err := f.Status(context.Background(), "r")
			if err != nil || st.State != runtime.StateCompensationFailed || !strings.Contains(st.Err, "rollback B: cannot delete") {
				t.Errorf("Status = %+v, %v", st, err)
			}
		})
	}
}

func TestRollbackTimeoutUnderAbort(t *testing.T) {
	clock := runtime.NewFakeClock(epoch)
	release := make(chan struct{})
	defer close(release)
	rec := newRecorder()
	f := runtime.New[state]("rbtimeout", runtime.WithClock(clock))
	started := make(chan struct{})
	undoStarted := make(chan struct{})
	mustRegister(t, f,
		okStep(rec, "A"),
		runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(ctx context.Context, s *state) error {
				close(undoStarted)
				<-release // hangs, ignoring ctx
				return nil
			}), runtime.WithRollbackTimeout[state](time.Minute)),
		runtime.NewStep("C", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			close(started)
			<-ctx.Done()
			return "", ctx.Err()
		}))
	run, err := f.Start(context.Background(), state{})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	_ = run.Abort()
	<-undoStarted
	clock.BlockUntil(1)
	clock.Advance(time.Minute)
	res, err := run.Wait(context.Background())
	if res.Final != runtime.StateCompensationFailed || !errors.Is(err, runtime.ErrTimeout) {
		t.Fatalf("final %s, err %v; want compensation_failed by timeout", res.Final, err)
	}
	if diff := cmp.Diff([]string{"undo A"}, rec.filter("undo")); diff != "" {
		t.Errorf("A must still be undone (-want +got):\n%s", diff)
	}
}

// A run that a step's outcome routes to fail, on a path an earlier step's
// failure started (Charge's error routed to Reject, whose ok is fail),
// says both in Status.Err: the routing, naming its step, and the last
// step failure before it. It said only `step Reject: runtime: routed to
// fail by outcome "ok"`: the card decline was in the history alone. The
// terminal state and the history are as before, and Status is still the
// Replay of the history.
func TestRoutedToFailStatusNamesTheFailureBefore(t *testing.T) {
	sink := runtime.NewMemorySink()
	f := runtime.New[state]("charge", runtime.WithSink(sink))
	mustRegister(t, f,
		runtime.NewStep("Charge", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("card declined"))
		}, runtime.WithNext[state](runtime.OutcomeError, "Reject")),
		runtime.NewStep("Ship", func(ctx context.Context, s *state) (runtime.Outcome, error) { return "", nil }),
		runtime.NewStep("Reject", func(ctx context.Context, s *state) (runtime.Outcome, error) { return "", nil },
			runtime.WithNext[state](runtime.OutcomeOK, runtime.Fail)),
	)
	res, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r"))
	if !errors.Is(err, runtime.ErrRoutedToFail) || res.Final != runtime.StateFailed {
		t.Fatalf("Execute = %s, %v", res.Final, err)
	}
	st, err := f.Status(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	want := `step Reject: runtime: routed to fail by outcome "ok"; the last step failure before it: step Charge: card declined`
	if st.Err != want || st.Step != "Reject" || st.State != runtime.StateFailed || st.Retrying {
		t.Fatalf("status step %q state %s error %q (retrying %v), want step Reject, failed, error %q", st.Step, st.State, st.Err, st.Retrying, want)
	}
	h, err := f.History(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runtime.Replay(h)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err != st.Err {
		t.Fatalf("Replay error %q, Status error %q", rep.Err, st.Err)
	}
}
