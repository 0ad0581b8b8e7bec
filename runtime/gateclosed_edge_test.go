package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// sameAsReplay fails t unless st, a live run's status, is the Replay of its
// own history.
func sameAsReplay(t *testing.T, st runtime.Status) {
	t.Helper()
	replayed, err := runtime.Replay(st.History)
	if err != nil {
		t.Fatal(err)
	}
	replayed.RunID, replayed.Flow = st.RunID, st.Flow
	if !reflect.DeepEqual(replayed, st) {
		t.Fatalf("status %+v\nreplay %+v", st, replayed)
	}
}

// Repeated go-backs to the gate, in several lives of the run, keep the
// step's first wait's deadline: neither a go-back nor a restart gives the
// step more time (issue 8's restart-resets-the-timeout), and the status
// equals the replay of the history at each point.
func TestGateClosedDeadlineAcrossRestarts(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	deadline := gateStart.Add(time.Hour)
	f := newEachFlow(t, clock, sink, bus, true)
	f.fail = nil
	f.closed = 2
	r, err := f.flow.Start(context.Background(), gateState{ID: "d-1"}, runtime.WithRunID("d-1"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "d-1", 1)
	for i, n := range []int{3, 5} {
		clock.Advance(10 * time.Minute)
		f.allow(t, "d-1")
		st := f.waiting(t, "d-1", n)
		if st.Attempt != 1 || st.Wait == nil || !st.Wait.Deadline.Equal(deadline) {
			t.Fatalf("go-back %d: attempt %d, wait %+v, want attempt 1 until %v", i+1, st.Attempt, st.Wait, deadline)
		}
		sameAsReplay(t, st)
	}
	if err := r.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("suspended run: %v", err)
	}

	// A new process: the gate is closed once more, later.
	clock.Advance(20 * time.Minute)
	f2 := newEachFlow(t, clock, sink, bus, true)
	f2.fail = nil
	f2.closed = 1
	r2, err := f2.flow.Resume(context.Background(), sink.History("d-1"))
	if err != nil {
		t.Fatal(err)
	}
	if st := f2.waiting(t, "d-1", 5); st.Wait == nil || !st.Wait.Deadline.Equal(deadline) {
		t.Fatalf("after Resume: wait %+v", st.Wait)
	}
	f2.allow(t, "d-1")
	st := f2.waiting(t, "d-1", 7)
	if st.Attempt != 1 || st.Wait == nil || !st.Wait.Deadline.Equal(deadline) {
		t.Fatalf("go-back after Resume: attempt %d, wait %+v, want attempt 1 until %v", st.Attempt, st.Wait, deadline)
	}
	sameAsReplay(t, st)
	if last := st.History[6]; last.Wait == nil || !last.Wait.Deadline.Equal(deadline) {
		t.Fatalf("the event back to the gate records %+v", last.Wait)
	}
	clock.BlockUntil(1)
	clock.Advance(deadline.Sub(clock.Now()))
	res, err := r2.Wait(context.Background())
	var se *runtime.StepError
	if res.Final != runtime.StateFailed || !errors.As(err, &se) || se.Outcome != runtime.OutcomeTimeout {
		t.Fatalf("final %s (%v), want failed by the step's timeout at its first deadline", res.Final, err)
	}
	if err := f2.flow.CheckHistory(sink.History("d-1")); err != nil {
		t.Fatal(err)
	}
}

// An abort while the run waits again at its gate is an abort while
// waiting: it interrupts no step, the run ends aborted, and its status is
// its history's.
func TestGateClosedAbortWhileWaiting(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	f := newEachFlow(t, clock, sink, bus, true)
	f.fail = nil
	f.closed = 1
	r, err := f.flow.Start(context.Background(), gateState{ID: "a-1"}, runtime.WithRunID("a-1"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "a-1", 1)
	f.allow(t, "a-1")
	f.waiting(t, "a-1", 3)
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	res, err := r.Wait(context.Background())
	if res.Final != runtime.StateAborted || !errors.Is(err, runtime.ErrAborted) {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	st, err := f.flow.Status(context.Background(), "a-1")
	if err != nil {
		t.Fatal(err)
	}
	sameAsReplay(t, st)
	abort := st.History[3]
	if abort.From != runtime.WaitingState("Pay") || abort.To != runtime.MachineAborting || abort.Interrupted() {
		t.Fatalf("the abort: %+v (interrupted %v)", abort, abort.Interrupted())
	}
	if st.Retrying || st.Err != runtime.ErrAborted.Error() {
		t.Fatalf("status after the abort: error %q retrying %v", st.Err, st.Retrying)
	}
	if err := f.flow.CheckHistory(st.History); err != nil {
		t.Fatal(err)
	}
}

// A gate that opens and is found closed at each attempt (a provider that
// flaps) does not grow the run's history for ever: the history bound
// (WithMaxHistory) fails the step, with ErrHistoryLimit, as it does a
// loop.
func TestGateClosedFlappingHitsHistoryLimit(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	fl := runtime.New[gateState]("Flap", runtime.WithSink(sink), runtime.WithClock(clock), runtime.WithSubscriber(bus),
		runtime.WithMaxHistory(11))
	tries := 0
	pay := runtime.NewStep("Pay", func(ctx context.Context, s *gateState) (runtime.Outcome, error) {
		tries++
		return "", runtime.GateClosed(errors.New("the card service is gone"))
	}, runtime.WithIrreversible[gateState]())
	pay.Await = &runtime.Await[gateState]{Topic: "ops", Event: "pay.allowed", EachAttempt: true}
	if err := fl.Register(pay); err != nil {
		t.Fatal(err)
	}
	for range 100 { // the bus keeps what no wait took for the next wait
		if err := bus.Publish(context.Background(), "ops", "pay.allowed", json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := fl.Execute(context.Background(), gateState{ID: "f-1"}, runtime.WithRunID("f-1"))
	if res.Final != runtime.StateFailed || !errors.Is(err, runtime.ErrHistoryLimit) {
		t.Fatalf("final %s (%v), want failed by the history limit", res.Final, err)
	}
	if h := sink.History("f-1"); len(h) != 14 || tries != 5 {
		t.Fatalf("%d events, %d attempts", len(h), tries)
	}
	st, err := fl.Status(context.Background(), "f-1")
	if err != nil {
		t.Fatal(err)
	}
	sameAsReplay(t, st)
}

// A gated rollback whose gate opens and is found closed at each attempt
// (a provider that flaps) does not grow the run's history for ever
// either: past the history bound, an attempt back at its gate is the
// failed attempt it wraps, which the rollback's retry policy bounds
// (WithMaxHistory), and the run ends compensation_failed saying why.
func TestGateClosedRollbackFlappingHitsHistoryLimit(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	fl := runtime.New[gateState]("FlapBack", runtime.WithSink(sink), runtime.WithClock(clock), runtime.WithSubscriber(bus),
		runtime.WithMaxHistory(20))
	tries := 0
	pay := runtime.NewStep("Pay", func(context.Context, *gateState) (runtime.Outcome, error) { return "", nil },
		runtime.WithRollback(func(context.Context, *gateState) error {
			tries++
			return runtime.GateClosed(errors.New("the refund service is gone"))
		}), runtime.WithRollbackRetry[gateState](runtime.RetryPolicy{Attempts: 2}))
	pay.RollbackAwait = &runtime.Await[gateState]{Topic: "ops", Event: "refund.allowed"}
	if err := fl.Register(pay, runtime.NewStep("Ship", func(context.Context, *gateState) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("no parcel service"))
	}, runtime.WithIrreversible[gateState]())); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := bus.Publish(context.Background(), "ops", "refund.allowed", json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := fl.Execute(context.Background(), gateState{ID: "f-2"}, runtime.WithRunID("f-2"))
	if res.Final != runtime.StateCompensationFailed || err == nil {
		t.Fatalf("final %s (%v), want compensation_failed", res.Final, err)
	}
	h := sink.History("f-2")
	if len(h) > 30 {
		t.Fatalf("%d events after %d rollback attempts: the history bound does not bound a flapping gate", len(h), tries)
	}
	st, err := fl.Status(context.Background(), "f-2")
	if err != nil {
		t.Fatal(err)
	}
	sameAsReplay(t, st)
	if !strings.Contains(st.Err, "rollback Pay: the refund service is gone") {
		t.Errorf("the run's error %q, want the rollback's", st.Err)
	}
	if err := fl.CheckHistory(h); err != nil {
		t.Fatal(err)
	}
}

// A gated rollback back at its gate: its status, the wait included, is the
// replay of its history, and so is that of the attempt then running.
func TestGateClosedRollbackStatusIsReplay(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	g := newGateFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus())
	g.closed = 1
	r, err := g.flow.Start(context.Background(), gateState{ID: "s-1"}, runtime.WithRunID("s-1"))
	if err != nil {
		t.Fatal(err)
	}
	sameAsReplay(t, g.waitsInRollback(t, "s-1"))
	clock.Advance(10 * time.Minute)
	g.allow(t, "s-1")
	waitUntil(t, func() bool { return g.rec.count("refund ch-1") == 1 })
	st := g.waitsInRollback(t, "s-1")
	if st.Wait == nil || !st.Wait.Deadline.Equal(gateStart.Add(10*time.Minute+time.Hour)) || st.Attempt != 1 || st.Retrying {
		t.Fatalf("back at the gate: attempt %d retrying %v wait %+v", st.Attempt, st.Retrying, st.Wait)
	}
	sameAsReplay(t, st)
	g.allow(t, "s-1")
	if res, err := r.Wait(context.Background()); res.Final != runtime.StateCompensated {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	st, err = g.flow.Status(context.Background(), "s-1")
	if err != nil {
		t.Fatal(err)
	}
	sameAsReplay(t, st)
}
