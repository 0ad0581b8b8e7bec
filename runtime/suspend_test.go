package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Suspend stops a run at the next step boundary without ending it or
// recording anything for it; Resume continues it from its history.
func TestSuspendAtStepBoundaryAndResume(t *testing.T) {
	sink := runtime.NewMemorySink()
	rec := newRecorder()
	inA, release := make(chan struct{}), make(chan struct{})
	steps := func(block bool) []*runtime.Step[state] {
		return []*runtime.Step[state]{
			runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				rec.add("exec A", ctx)
				if block {
					close(inA)
					<-release
				}
				return "", nil
			}),
			okStep(rec, "B"),
		}
	}
	f := runtime.New[state]("S", runtime.WithSink(sink))
	mustRegister(t, f, steps(true)...)
	run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	<-inA
	if err := run.Suspend(); err != nil {
		t.Fatal(err)
	}
	close(release)
	res, err := run.Wait(context.Background())
	if !errors.Is(err, runtime.ErrSuspended) || res.Final != runtime.StateRunning {
		t.Fatalf("Wait = %+v, %v; want suspended while running", res, err)
	}
	h := sink.History("r")
	if got := transitions(h); len(got) != 2 || h[1].To != "B:running" {
		t.Fatalf("history %v: want A completed and recorded, B not started", got)
	}
	if _, ok := f.Run("r"); ok {
		t.Error("a suspended run is still live")
	}
	g := runtime.New[state]("S", runtime.WithSink(sink))
	mustRegister(t, g, steps(false)...)
	r2, err := g.Resume(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r2.Wait(context.Background()); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("resumed: %+v, %v", res, err)
	}
	if rec.count("exec A") != 1 || rec.count("exec B") != 1 {
		t.Errorf("effects %v: each step once", rec.all())
	}
}

// A waiting run is suspended at once: its wait is let go, nothing is
// recorded, and the resumed run waits for the same deadline.
func TestSuspendWhileWaiting(t *testing.T) {
	sink := runtime.NewMemorySink()
	sub := newProbeSub()
	f, clock := orderFlow(t, sub, sink, awaitPaid(time.Hour))
	run, err := f.Start(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "r1/Pay")
	if err := run.Suspend(); err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(context.Background())
	if !errors.Is(err, runtime.ErrSuspended) || res.Final != runtime.StateWaiting {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	if clock.Pending() != 0 || sub.send("r1/Pay", `{"correlation_id":"o-1"}`) {
		t.Error("the suspended run still waits")
	}
	if n := len(sink.History("r1")); n != 1 {
		t.Errorf("%d events; Suspend records nothing", n)
	}
	if err := run.Suspend(); err != nil { // it said ErrFinished, "run finished"
		t.Errorf("second Suspend: %v, want nil: the run is suspended, not over", err)
	}
	// The run is not over, and a MemorySink keeps no abort requests: the
	// abort cannot be kept for the Resume, and Abort says so (it said
	// "run finished").
	if err := run.Abort(); !errors.Is(err, runtime.ErrSuspended) || errors.Is(err, runtime.ErrFinished) {
		t.Errorf("Abort of the suspended run: %v, want ErrSuspended", err)
	}
	sub2 := newProbeSub()
	f2, _ := orderFlow(t, sub2, sink, awaitPaid(time.Hour))
	r2, err := f2.Resume(context.Background(), sink.History("r1"))
	if err != nil {
		t.Fatal(err)
	}
	if w := sub2.waitFor(t, "r1/Pay"); !w.Deadline.Equal(epoch.Add(time.Hour)) {
		t.Errorf("deadline %v after the resume", w.Deadline)
	}
	sub2.send("r1/Pay", `{"correlation_id":"o-1","amount":4}`)
	if res, err := r2.Wait(context.Background()); err != nil || res.State.Paid.Amount != 4 {
		t.Fatalf("resumed: %+v, %v", res, err)
	}
}

// A run suspended while a rollback retries stops after the retry is
// recorded, without waiting for the backoff or the rollback's further
// attempts; Resume runs the next attempt of the rollback once the
// recorded backoff is over, under the same idempotency key, and the
// compensation completes.
func TestSuspendBetweenRollbackAttempts(t *testing.T) {
	sink := runtime.NewMemorySink()
	clock := runtime.NewFakeClock(epoch)
	rec := newRecorder()
	failed := make(chan struct{}, 1)
	steps := func(undoFails bool) []*runtime.Step[state] {
		return []*runtime.Step[state]{
			runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				rec.add("exec A", ctx)
				return "", nil
			}, runtime.WithRollback(func(ctx context.Context, s *state) error {
				rec.add("undo A", ctx)
				if undoFails {
					failed <- struct{}{}
					return errors.New("no provider yet")
				}
				return nil
			}), runtime.WithRollbackRetry[state](runtime.RetryPolicy{Attempts: 5, Initial: time.Hour, Max: time.Hour})),
			runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				return "", runtime.Permanent(errors.New("declined"))
			}, runtime.WithIrreversible[state]()),
		}
	}
	f := runtime.New[state]("S", runtime.WithSink(sink), runtime.WithClock(clock))
	mustRegister(t, f, steps(true)...)
	run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	<-failed
	// The first attempt failed; its retry is recorded, then the hour of
	// backoff begins (Suspend may come before or during it).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if h := sink.History("r"); len(h) > 0 && h[len(h)-1].Outcome == runtime.OutcomeRetry {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the retry of the rollback was not recorded")
		}
	}
	if err := run.Suspend(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := run.Wait(ctx)
	if !errors.Is(err, runtime.ErrSuspended) || res.Final != runtime.StateRollingBack {
		t.Fatalf("Wait = %+v, %v; want suspended while compensating, before the backoff ends", res, err)
	}
	h := sink.History("r")
	if last := h[len(h)-1]; last.From != "A:rollback" || last.To != "A:rollback" || last.Attempt != 1 {
		t.Fatalf("history ends %+v: want the recorded retry of A's rollback", last)
	}
	g := runtime.New[state]("S", runtime.WithSink(sink), runtime.WithClock(clock))
	mustRegister(t, g, steps(false)...)
	r2, err := g.Resume(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	backingOff(t, clock, func() bool { return rec.count("undo A") > 1 })
	clock.Advance(time.Hour)
	if res, _ := r2.Wait(context.Background()); res.Final != runtime.StateCompensated {
		t.Fatalf("resumed: %+v; want compensated", res)
	}
	keys := rec.key["undo A"]
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Errorf("rollback keys %v: want two attempts under one key", keys)
	}
	h = sink.History("r")
	for _, e := range h {
		if e.From == "A:rollback" && e.Outcome == runtime.OutcomeOK && e.Attempt != 2 {
			t.Errorf("the rollback completed at attempt %d, want 2 (the attempt after the recorded retry)", e.Attempt)
		}
	}
}

// SuspendAll suspends every live run of a flow, one in a step and one
// sleeping, and returns once both have stopped; until the step in flight
// ends it cannot, and a context that ends first says so. Nothing is
// recorded for it: both runs resume from their histories and finish, each
// step done once.
func TestSuspendAll(t *testing.T) {
	sink := runtime.NewMemorySink()
	rec := newRecorder()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	inA, release := make(chan struct{}), make(chan struct{})
	steps := func(block bool) []*runtime.Step[state] {
		return []*runtime.Step[state]{
			runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				rec.add("exec A", ctx)
				if block && s.Route == "busy" {
					close(inA)
					<-release
				}
				return "", nil
			}),
			runtime.NewSleep[state]("Nap", time.Hour, nil),
			okStep(rec, "B"),
		}
	}
	f := runtime.New[state]("S", runtime.WithSink(sink), runtime.WithClock(clock))
	mustRegister(t, f, steps(true)...)
	napping, err := f.Start(context.Background(), state{}, runtime.WithRunID("napping"))
	if err != nil {
		t.Fatal(err)
	}
	clock.BlockUntil(1)
	busy, err := f.Start(context.Background(), state{Route: "busy"}, runtime.WithRunID("busy"))
	if err != nil {
		t.Fatal(err)
	}
	<-inA

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.SuspendAll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SuspendAll while a step is in flight, until ctx ends: %v, want the context's error", err)
	}
	close(release)
	if err := f.SuspendAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*runtime.Run[state]{napping, busy} {
		if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
			t.Errorf("run %s: %v, want suspended", r.ID(), err)
		}
		if _, ok := f.Run(r.ID()); ok {
			t.Errorf("run %s is still live", r.ID())
		}
	}

	g := runtime.New[state]("S", runtime.WithSink(sink), runtime.WithClock(clock))
	mustRegister(t, g, steps(false)...)
	runs, err := g.ResumeAll(context.Background(), sink)
	if err != nil || len(runs) != 2 {
		t.Fatalf("ResumeAll: %d runs, %v", len(runs), err)
	}
	clock.BlockUntil(2)
	clock.Advance(time.Hour)
	for _, r := range runs {
		if res, err := r.Wait(context.Background()); err != nil || res.Final != runtime.StateDone {
			t.Errorf("resumed %s: %+v, %v", r.ID(), res, err)
		}
	}
	if rec.count("exec A") != 2 || rec.count("exec B") != 2 {
		t.Errorf("effects %v: each step once per run", rec.all())
	}
}
