package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// rollbackWaitFlows: Order pays (its rollback a call of Refund) and then
// fails to ship; Refund sleeps an hour before it gives the money back, so
// Order's rollback waits an hour for its child.
type rollbackWaitFlows struct {
	clock  *runtime.FakeClock
	sink   *runtime.MemorySink
	order  *runtime.Flow[parentState]
	refund *runtime.Flow[billing]
	rec    *recorder
	mu     sync.Mutex
	parked map[string]bool
}

func newRollbackWaitFlows(t *testing.T, clock *runtime.FakeClock, sink *runtime.MemorySink, rbTimeout time.Duration) *rollbackWaitFlows {
	t.Helper()
	w := &rollbackWaitFlows{clock: clock, sink: sink, rec: newRecorder(), parked: map[string]bool{}}
	w.refund = runtime.New[billing]("Refund", runtime.WithSink(sink), runtime.WithClock(clock))
	if err := w.refund.Register(
		runtime.NewSleep[billing]("Later", time.Hour, nil),
		runtime.NewStep("Give", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
			w.rec.add("give "+s.Charge, ctx)
			return "", nil
		}, runtime.WithIrreversible[billing]()),
	); err != nil {
		t.Fatal(err)
	}
	w.order = runtime.New[parentState]("Order", runtime.WithSink(sink), runtime.WithClock(clock),
		runtime.WithRunParked(func(id string, parked bool) { w.mu.Lock(); w.parked[id] = parked; w.mu.Unlock() }))
	payOpts := []runtime.StepOption[parentState]{runtime.WithRollbackCall(w.refund, func(s *parentState) billing { return s.Req })}
	if rbTimeout > 0 {
		payOpts = append(payOpts, runtime.WithRollbackTimeout[parentState](rbTimeout))
	}
	if err := w.order.Register(
		runtime.NewStep("Pay", func(ctx context.Context, s *parentState) (runtime.Outcome, error) {
			w.rec.add("pay", ctx)
			s.Req.Charge = "ch-1"
			return "", nil
		}, payOpts...),
		runtime.NewStep("Ship", func(ctx context.Context, s *parentState) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("no parcel service"))
		}, runtime.WithIrreversible[parentState]()),
	); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *rollbackWaitFlows) isParked(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.parked[id]
}

// rollbackCallBlocked reports whether a goroutine is inside a rollback
// call's attempt, waiting for its child.
func rollbackCallBlocked() bool {
	buf := make([]byte, 1<<20)
	n := goruntime.Stack(buf, true)
	return bytes.Contains(buf[:n], []byte("WithRollbackCallBy"))
}

// A rollback call whose child takes an hour parks the parent: no goroutine
// waits for the child, an abort changes nothing, and the child's end wakes
// the parent, which finishes compensating.
func TestRollbackCallParks(t *testing.T) {
	clock := runtime.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	w := newRollbackWaitFlows(t, clock, runtime.NewMemorySink(), 0)
	r, err := w.order.Start(context.Background(), parentState{}, runtime.WithRunID("o-1"))
	if err != nil {
		t.Fatal(err)
	}
	child := "o-1@Pay:rollback"
	waitUntil(t, func() bool {
		st, err := w.refund.Status(context.Background(), child)
		return w.isParked("o-1") && err == nil && st.State == runtime.StateWaiting
	})
	want := runtime.RunRef{Flow: "Refund", RunID: child}
	if st := r.Status(); st.State != runtime.StateRollingBack || st.Machine != "Pay:rollback" ||
		st.Wait == nil || st.Wait.Child == nil || *st.Wait.Child != want || !slices.Contains(st.Children, want) {
		t.Fatalf("parent while its rollback waits: %s in %s, waiting for %+v, children %v", st.State, st.Machine, st.Wait, st.Children)
	}
	entered := eventsTo(w.sink.History("o-1"), "Pay:rollback")
	if len(entered) != 1 || entered[0].Wait == nil || *entered[0].Wait.Child != want {
		t.Fatalf("the event starting the rollback %+v: want it to name the child", entered)
	}
	if rollbackCallBlocked() {
		t.Fatal("a goroutine waits in the rollback call")
	}
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if !w.isParked("o-1") || r.Status().Machine != "Pay:rollback" {
		t.Fatalf("an abort moved a run waiting in its rollback: %s", r.Status().Machine)
	}
	clock.Advance(time.Hour)
	res, err := r.Wait(context.Background())
	if res.Final != runtime.StateCompensated {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	if got := w.rec.all(); !slices.Equal(got, []string{"pay", "give ch-1"}) {
		t.Fatalf("effects %v", got)
	}
	if st := r.Status(); st.Wait != nil {
		t.Fatalf("a compensated run still waits for %+v", st.Wait)
	}
	back := eventsTo(w.sink.History("o-1"), runtime.MachineFailing)
	if len(back) != 2 || back[1].Child == nil || back[1].Child.RunID != child || back[1].Outcome != runtime.OutcomeOK {
		t.Fatalf("the rollback's end %+v: want ok, naming the child", back)
	}
}

// A run suspended while its rollback waits for its child (a process that
// shuts down) parks again on Resume, on the same child: no second child,
// and the rollback ends when the child does.
func TestRollbackCallParksAgainAfterResume(t *testing.T) {
	clock := runtime.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	sink := runtime.NewMemorySink()
	w := newRollbackWaitFlows(t, clock, sink, 0)
	r, err := w.order.Start(context.Background(), parentState{}, runtime.WithRunID("o-2"))
	if err != nil {
		t.Fatal(err)
	}
	child := "o-2@Pay:rollback"
	waitUntil(t, func() bool {
		st, err := w.refund.Status(context.Background(), child)
		return w.isParked("o-2") && err == nil && st.State == runtime.StateWaiting
	})
	ch, _ := w.refund.Run(child)
	_ = r.Suspend()
	_ = ch.Suspend()
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("parent: %v, want suspended", err)
	}

	w2 := newRollbackWaitFlows(t, clock, sink, 0)
	runs, err := w2.order.ResumeAll(context.Background(), sink)
	if err != nil || len(runs) != 1 {
		t.Fatal(runs, err)
	}
	waitUntil(t, func() bool { return w2.isParked("o-2") })
	clock.Advance(time.Hour)
	res, _ := runs[0].Wait(context.Background())
	if res.Final != runtime.StateCompensated {
		t.Fatalf("resumed parent %s (%v)", res.Final, res.Err)
	}
	if got := w2.rec.all(); !slices.Equal(got, []string{"give ch-1"}) {
		t.Fatalf("effects after the resume %v", got)
	}
	if _, err := w2.refund.Status(context.Background(), child+":2"); err == nil {
		t.Fatal("a second refund ran")
	}
}

// A rollback timeout counts from the attempt's start, as recorded: the
// parked rollback fails at it, and its child is aborted.
func TestRollbackCallParkedTimeout(t *testing.T) {
	clock := runtime.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	w := newRollbackWaitFlows(t, clock, runtime.NewMemorySink(), 30*time.Minute)
	r, err := w.order.Start(context.Background(), parentState{}, runtime.WithRunID("o-3"))
	if err != nil {
		t.Fatal(err)
	}
	child := "o-3@Pay:rollback"
	waitUntil(t, func() bool {
		st, err := w.refund.Status(context.Background(), child)
		return w.isParked("o-3") && err == nil && st.State == runtime.StateWaiting
	})
	if st := r.Status(); st.Wait == nil || !st.Wait.Deadline.Equal(clock.Now().Add(30*time.Minute)) {
		t.Fatalf("the rollback's wait %+v: want its deadline, 30m from the attempt's start", st.Wait)
	}
	clock.Advance(30 * time.Minute)
	res, err := r.Wait(context.Background())
	if res.Final != runtime.StateCompensationFailed || !errors.Is(err, runtime.ErrTimeout) {
		t.Fatalf("final %s (%v), want compensation_failed by the rollback's timeout", res.Final, err)
	}
	waitUntil(t, func() bool {
		st, _ := w.refund.Status(context.Background(), child)
		return st.State == runtime.StateAborted
	})
	if got := fmt.Sprint(w.rec.all()); got != "[pay]" {
		t.Fatalf("effects %s: the refund gave money back after its rollback timed out", got)
	}
}
