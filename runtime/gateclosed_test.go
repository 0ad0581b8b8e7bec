package runtime_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// An attempt of a step whose every attempt waits that finds its gate
// closed (runtime.GateClosed) goes back to the step's wait, recorded
// (Pay:running -> Pay:waiting, no outcome, the attempt and its error, the
// wait with the first wait's deadline), spending no attempt: the status
// shows the same attempt and why, and equals the replay of the history;
// a run resumed from there (a new process) waits again, and the wait's
// end runs the same attempt under the same idempotency key.
func TestGateClosedStepWaitsAgain(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	f := newEachFlow(t, clock, sink, bus, true)
	f.fail = nil
	f.closed = 1
	r, err := f.flow.Start(context.Background(), gateState{ID: "c-1"}, runtime.WithRunID("c-1"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "c-1", 1)
	clock.Advance(10 * time.Minute)
	f.allow(t, "c-1")
	st := f.waiting(t, "c-1", 3)
	if st.State != runtime.StateWaiting || st.Attempt != 1 || st.Err != "the card service is gone" ||
		st.Wait == nil || !st.Wait.Deadline.Equal(gateStart.Add(time.Hour)) {
		t.Fatalf("status while the attempt waits again: %s attempt %d error %q wait %+v", st.State, st.Attempt, st.Err, st.Wait)
	}
	back := st.History[2]
	if back.From != runtime.RunningState("Pay") || back.To != runtime.WaitingState("Pay") || back.Outcome != "" ||
		back.Attempt != 1 || back.Error != "the card service is gone" || back.Wait == nil || back.Woke() {
		t.Fatalf("the event back to the gate: %+v (wait %+v)", back, back.Wait)
	}
	replayed, err := runtime.Replay(st.History)
	if err != nil {
		t.Fatal(err)
	}
	replayed.RunID, replayed.Flow = st.RunID, st.Flow
	if !reflect.DeepEqual(replayed, st) {
		t.Fatalf("status %+v\nreplay %+v", st, replayed)
	}
	if err := r.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("suspended run: %v", err)
	}

	f2 := newEachFlow(t, clock, sink, bus, true)
	f2.fail = nil
	r2, err := f2.flow.Resume(context.Background(), sink.History("c-1"))
	if err != nil {
		t.Fatal(err)
	}
	if st := f2.waiting(t, "c-1", 3); st.Attempt != 1 || st.Wait == nil || !st.Wait.Deadline.Equal(gateStart.Add(time.Hour)) {
		t.Fatalf("after Resume: attempt %d, wait %+v", st.Attempt, st.Wait)
	}
	f2.allow(t, "c-1")
	res, err := r2.Wait(context.Background())
	if res.Final != runtime.StateDone || res.State.Charge != "ch-1" {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	tries, keys := f.attempts()
	tries2, keys2 := f2.attempts()
	if !slices.Equal(tries, []int{1}) || !slices.Equal(tries2, []int{1}) || keys[0] != "c-1/Pay" || keys2[0] != keys[0] {
		t.Fatalf("attempts %v %v with keys %v %v, want attempt 1 twice under one key", tries, tries2, keys, keys2)
	}
	h := sink.History("c-1")
	if done := h[len(h)-2]; done.From != runtime.RunningState("Pay") || done.Attempt != 1 || done.Outcome != runtime.OutcomeOK {
		t.Fatalf("Pay's end: %+v", done)
	}
	if err := f2.flow.CheckHistory(h); err != nil {
		t.Fatalf("the history does not check against its flow: %v", err)
	}
	// Without EachAttempt, the step has no gate to go back to.
	other := newEachFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), false)
	var he *runtime.HistoryError
	if err := other.flow.CheckHistory(h); !errors.As(err, &he) {
		t.Fatalf("a flow whose attempts do not wait accepts an attempt back at its gate: %v", err)
	}
}

// The step's deadline bounds the wait an attempt goes back to, as it
// bounds the first: it passes meanwhile, and the step ends timeout.
func TestGateClosedStepDeadline(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	f := newEachFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), true)
	f.closed = 1
	r, err := f.flow.Start(context.Background(), gateState{ID: "c-2"}, runtime.WithRunID("c-2"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "c-2", 1)
	f.allow(t, "c-2")
	f.waiting(t, "c-2", 3)
	clock.BlockUntil(1) // the wait's deadline armed
	clock.Advance(time.Hour)
	res, err := r.Wait(context.Background())
	var se *runtime.StepError
	if res.Final != runtime.StateFailed || !errors.As(err, &se) || se.Outcome != runtime.OutcomeTimeout {
		t.Fatalf("final %s (%v), want failed by the step's timeout", res.Final, err)
	}
}

// An attempt marked GateClosed of a step without a gate to go back to
// fails as the error it wraps: the step's retry policy governs.
func TestGateClosedWithoutGate(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	f := newEachFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), false)
	f.fail = nil
	f.closed = 1
	r, err := f.flow.Start(context.Background(), gateState{ID: "c-3"}, runtime.WithRunID("c-3"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "c-3", 1)
	f.allow(t, "c-3")
	waitUntil(t, func() bool { return len(f.sink.History("c-3")) == 3 })
	clock.BlockUntil(1)
	clock.Advance(time.Minute) // the retry's backoff
	res, err := r.Wait(context.Background())
	if res.Final != runtime.StateDone {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	if tries, _ := f.attempts(); !slices.Equal(tries, []int{1, 2}) {
		t.Fatalf("attempts %v, want 1 failed and 2", tries)
	}
	if retry := f.sink.History("c-3")[2]; retry.Outcome != runtime.OutcomeRetry || retry.To != runtime.RunningState("Pay") {
		t.Fatalf("the failed attempt's event: %+v", retry)
	}
}

// A gated rollback's attempt that finds its gate closed goes back to it,
// recorded (the rollback's state to itself, no outcome, its error and the
// wait), spending none of the rollback's attempts; a run resumed from
// there waits again, and the awaited event runs the same attempt under the
// same idempotency key.
func TestGateClosedRollbackWaitsAgain(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	g := newGateFlow(t, clock, sink, bus)
	g.closed = 2
	r, err := g.flow.Start(context.Background(), gateState{ID: "c-4"}, runtime.WithRunID("c-4"))
	if err != nil {
		t.Fatal(err)
	}
	g.waitsInRollback(t, "c-4")
	g.allow(t, "c-4")
	waitUntil(t, func() bool { return g.rec.count("refund ch-1") == 1 })
	st := g.waitsInRollback(t, "c-4")
	last := st.History[len(st.History)-1]
	if last.From != runtime.RollbackState("Pay") || last.To != last.From || last.Outcome != "" || last.Attempt != 1 ||
		last.Error != "the refund service is gone" || last.Wait == nil || last.Wait.Event != "refund.allowed" || last.Woke() {
		t.Fatalf("the event back to the gate: %+v", last)
	}
	if st.Wait == nil || st.Attempt != 1 || st.State != runtime.StateRollingBack {
		t.Fatalf("status while the rollback waits again: %s attempt %d wait %+v", st.State, st.Attempt, st.Wait)
	}
	if replayed, err := runtime.Replay(st.History); err != nil || replayed.Wait == nil || replayed.Attempt != 1 {
		t.Fatalf("Replay: %+v, %v", replayed, err)
	}
	if err := r.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("suspended run: %v", err)
	}

	g2 := newGateFlow(t, clock, sink, bus)
	g2.closed = 1
	r2, err := g2.flow.Resume(context.Background(), sink.History("c-4"))
	if err != nil {
		t.Fatal(err)
	}
	g2.waitsInRollback(t, "c-4")
	g2.allow(t, "c-4") // closed again: back to the gate once more
	waitUntil(t, func() bool { return g2.rec.count("refund ch-1") == 1 })
	g2.waitsInRollback(t, "c-4")
	g2.allow(t, "c-4")
	res, err := r2.Wait(context.Background())
	if res.Final != runtime.StateCompensated || g2.rec.count("refund ch-1") != 2 {
		t.Fatalf("final %s (%v), effects %v", res.Final, err, g2.rec.all())
	}
	keys := append(g.rec.keys("refund ch-1"), g2.rec.keys("refund ch-1")...)
	for _, k := range keys {
		if k != "c-4/Pay/rollback" {
			t.Fatalf("rollback attempts under keys %v", keys)
		}
	}
	h := sink.History("c-4")
	for _, e := range h {
		if e.Outcome == runtime.OutcomeRetry {
			t.Fatalf("a rollback attempt was spent: %+v", e)
		}
	}
	if end := h[len(h)-2]; end.From != runtime.RollbackState("Pay") || end.Attempt != 1 || end.Outcome != runtime.OutcomeOK {
		t.Fatalf("the rollback's end: %+v", end)
	}
	if err := g2.flow.CheckHistory(h); err != nil {
		t.Fatalf("the history does not check against its flow: %v", err)
	}
}
