package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Races between the ways a run's wait, or its life, ends: each test forces
// one interleaving, or runs many with the scheduler shuffling them, and
// checks that exactly one outcome is recorded and nobody waits forever.

// OnEnd asked while the run is ending (it is over, its end not yet handed
// out) still gets the end. A parent's AttachChild does exactly that when it
// finds its child live as the child ends (the engine's runs stay live until
// WithRunEnded's hook, which runs in that window); a lost end left the
// parent waiting for its child forever. The hook holds the run in the
// window while OnEnd is called.
func TestOnEndWhileEnding(t *testing.T) {
	inHook, cont := make(chan struct{}), make(chan struct{})
	f := runtime.New[state]("F", runtime.WithRunEnded(func(string, runtime.RunState, error) {
		close(inHook)
		<-cont
	}))
	mustRegister(t, f, okStep(newRecorder(), "A"))
	r, err := f.Start(context.Background(), state{})
	if err != nil {
		t.Fatal(err)
	}
	<-inHook
	got := make(chan runtime.RunEnd, 1)
	r.OnEnd(func(e runtime.RunEnd) { got <- e })
	close(cont)
	select {
	case e := <-got:
		if e.Final != runtime.StateDone || e.Err != nil {
			t.Errorf("OnEnd got %s (%v), want done", e.Final, e.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnEnd asked as the run ended was never called")
	}
}

// jitter lets the scheduler run something else, a little or not at all, so
// that the racing calls of a stress test meet in a different order each
// iteration.
func jitter() {
	switch n := rand.IntN(4); n {
	case 0:
	case 1, 2:
		for range rand.IntN(8) + 1 {
			goruntime.Gosched()
		}
	default:
		time.Sleep(time.Duration(rand.IntN(50)) * time.Microsecond)
	}
}

// race runs each of fns on its own goroutine, started together, and waits
// for them all.
func race(fns ...func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() {
			<-start
			jitter()
			fn()
		})
	}
	close(start)
	wg.Wait()
}

// noGoroutineLeft waits for the goroutine count to fall back to before.
func noGoroutineLeft(t *testing.T, before int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); goruntime.NumGoroutine() > before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left behind", goruntime.NumGoroutine()-before)
		}
	}
}

// iterations is how many times a stress test races its calls.
func iterations() int {
	if testing.Short() {
		return 30
	}
	return 200
}

// consistent checks the end of a run that raced: its history replays, and
// Status (folded live, or replayed from the sink) says what the replay says.
func consistent(t *testing.T, status runtime.Status, h []runtime.Event) runtime.Status {
	t.Helper()
	st, err := runtime.Replay(h)
	if err != nil {
		t.Fatalf("history does not replay: %v\n%v", err, transitions(h))
	}
	if status.State != st.State || status.Machine != st.Machine || status.Err != st.Err {
		t.Fatalf("Status %s %s %q, replay of the history %s %s %q", status.State, status.Machine, status.Err, st.State, st.Machine, st.Err)
	}
	return st
}

// leaving returns the events that leave state from.
func leaving(h []runtime.Event, from string) []runtime.Event {
	return slices.DeleteFunc(slices.Clone(h), func(e runtime.Event) bool { return e.From != from })
}

// A delivery races each other way an await's wait ends: its deadline (on
// the fake clock), Abort and Suspend, on a run that keeps its data while
// parked and on one that hibernates (its sink loads histories). Whichever
// wins, exactly one event leaves the wait (none for a Suspend that won),
// it is the delivery's wake exactly when the delivery was taken (an Abort
// after the delivery was taken still aborts: woken lets an abort win), the
// timer and subscription are let go, the history replays to Status, a
// suspended run resumes and completes, and no goroutine is left. The other
// tests of these ends (TestAwaitTimeoutRouted, TestAbortWhileWaiting,
// TestSuspendWhileWaiting, TestInterruptWhileParking) take them one at a
// time.
func TestDeliveryRacesWaitEnd(t *testing.T) {
	for _, loads := range []bool{false, true} {
		for _, other := range []string{"deadline", "abort", "suspend"} {
			t.Run(fmt.Sprintf("%s/loads=%v", other, loads), func(t *testing.T) {
				before := goruntime.NumGoroutine()
				for i := range iterations() {
					deliveryRace(t, other, loads, fmt.Sprintf("r%d", i))
				}
				noGoroutineLeft(t, before)
			})
		}
	}
}

func deliveryRace(t *testing.T, other string, loads bool, id string) {
	mem := runtime.NewMemorySink()
	var sink runtime.Sink = runtime.SinkFunc(mem.Emit) // Status folds the events live
	if loads {
		sink = mem // the run hibernates; Status replays the sink's history
	}
	var undone atomic.Int32
	steps := func() []*runtime.Step[order] {
		return []*runtime.Step[order]{
			runtime.NewStep("Reserve", func(context.Context, *order) (runtime.Outcome, error) { return "", nil },
				runtime.WithRollback(func(context.Context, *order) error { undone.Add(1); return nil })),
			awaitPaid(time.Hour, runtime.WithNext[order](runtime.OutcomeTimeout, "Expire")),
			route("Ship"), route("Expire"),
		}
	}
	sub := newProbeSub()
	f, clock := orderFlow(t, sub, sink, steps()...)
	r, err := f.Start(context.Background(), order{OrderID: id}, runtime.WithRunID(id))
	if err != nil {
		t.Fatal(err)
	}
	key := id + "/Pay"
	sub.waitFor(t, key)
	clock.BlockUntil(1)
	var took bool
	var otherErr error
	race(
		func() { took = sub.send(key, `{"correlation_id":"`+id+`","amount":7}`) },
		func() {
			switch other {
			case "deadline":
				clock.Advance(time.Hour)
			case "abort":
				otherErr = r.Abort()
			case "suspend":
				otherErr = r.Suspend()
			}
		})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := r.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: the run still waits in %s (delivery taken %v)", id, r.Status().Machine, took)
	}
	if clock.Pending() != 0 {
		t.Errorf("%s: %d timers left", id, clock.Pending())
	}
	sub.mu.Lock()
	subs := len(sub.deliver)
	sub.mu.Unlock()
	if subs != 0 {
		t.Errorf("%s: the subscription was not cancelled", id)
	}
	h := mem.History(id)
	consistent(t, r.Status(), h)
	out := leaving(h, "Pay:waiting")
	woke := len(out) == 1 && out[0].Woke() && string(out[0].Payload) != ""
	switch {
	case len(out) > 1:
		t.Fatalf("%s: %d events leave the wait: %v", id, len(out), transitions(h))
	case len(out) == 0 && !(other == "suspend" && !took && res.Final == runtime.StateWaiting):
		t.Fatalf("%s: nothing left the wait, final %s (%v), delivery taken %v: %v", id, res.Final, err, took, transitions(h))
	case woke && !took:
		t.Fatalf("%s: woken by a delivery that was refused: %v", id, transitions(h))
	case took && !woke && other != "abort":
		t.Fatalf("%s: the delivery was taken but %v left the wait", id, transitions(h))
	}
	switch other {
	case "deadline":
		if err != nil || (!woke && out[0].Outcome != runtime.OutcomeTimeout) {
			t.Fatalf("%s: %v, %v: want the wake or the timeout", id, err, transitions(h))
		}
	case "abort":
		aborted := res.Final == runtime.StateAborted && undone.Load() == 1
		// Woken by the delivery, the run may end done: Abort came after
		// its last step (it returns nil when the run has recorded its end
		// but not yet released it; see the Suspend case).
		finished := res.Final == runtime.StateDone && woke
		if !aborted && !finished {
			t.Fatalf("%s: final %s (%v), Abort %v, undone %d: %v", id, res.Final, err, otherErr, undone.Load(), transitions(h))
		}
	case "suspend":
		if res.Final == runtime.StateDone && woke {
			// The run ended before the Suspend, or as it came: the loop
			// does not stop a run whose end is recorded, and Suspend
			// returns ErrFinished only once the run is released.
			return
		}
		if !errors.Is(err, runtime.ErrSuspended) {
			t.Fatalf("%s: final %s (%v), Suspend %v: want suspended", id, res.Final, err, otherErr)
		}
		// The next process resumes it: it waits again, or runs the step
		// the delivery woke, and completes with the one payment.
		sub2 := newProbeSub()
		f2, _ := orderFlow(t, sub2, sink, steps()...)
		r2, err := f2.Resume(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		if !woke {
			sub2.waitFor(t, key)
			if !sub2.send(key, `{"correlation_id":"`+id+`","amount":7}`) {
				t.Fatalf("%s: the resumed run refused the payment", id)
			}
		}
		res, err := r2.Wait(ctx)
		if err != nil || res.State.Paid.Amount != 7 {
			t.Fatalf("%s: resumed: %+v, %v", id, res, err)
		}
		h = mem.History(id)
		consistent(t, r2.Status(), h)
		if n := len(leaving(h, "Pay:waiting")); n != 1 {
			t.Fatalf("%s: %d events leave the wait after the resume: %v", id, n, transitions(h))
		}
	}
}

// Two deliveries for one await at once, through the Subscriber's deliver
// and through a MemoryBus: one is taken, and it is the one the history
// records; the other is refused (deliver returns false) and, on the bus,
// kept for the next run that awaits it. TestAwaitEventThatCameFirst keeps
// one event for a later wait; here two meet one wait.
func TestTwoDeliveriesOneWait(t *testing.T) {
	before := goruntime.NumGoroutine()
	for i := range iterations() {
		id := fmt.Sprintf("r%d", i)
		sink := runtime.NewMemorySink()
		sub := newProbeSub()
		f, _ := orderFlow(t, sub, sink, awaitPaid(time.Hour))
		r, err := f.Start(context.Background(), order{OrderID: id}, runtime.WithRunID(id))
		if err != nil {
			t.Fatal(err)
		}
		sub.waitFor(t, id+"/Pay")
		var took [2]bool
		race(
			func() { took[0] = sub.send(id+"/Pay", `{"correlation_id":"`+id+`","amount":1}`) },
			func() { took[1] = sub.send(id+"/Pay", `{"correlation_id":"`+id+`","amount":2}`) })
		res, err := r.Wait(context.Background())
		if err != nil || took[0] == took[1] || res.State.Paid.Amount != map[bool]int{true: 1, false: 2}[took[0]] {
			t.Fatalf("%s: taken %v, final %+v, %v", id, took, res, err)
		}
		consistent(t, r.Status(), sink.History(id))
	}

	bus := runtime.NewMemoryBus()
	sink := runtime.NewMemorySink()
	f, _ := orderFlow(t, bus, sink, awaitPaid(time.Hour))
	for i := range iterations() {
		first, err := f.Start(context.Background(), order{OrderID: "o"}, runtime.WithRunID(fmt.Sprintf("a%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return first.Status().State == runtime.StateWaiting })
		publish := func(n int) func() {
			return func() {
				if err := bus.Publish(context.Background(), "payments", "paid", map[string]any{"correlation_id": "o", "amount": n}); err != nil {
					t.Error(err)
				}
			}
		}
		race(publish(1), publish(2))
		second, err := f.Start(context.Background(), order{OrderID: "o"}, runtime.WithRunID(fmt.Sprintf("b%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		a, errA := first.Wait(context.Background())
		b, errB := second.Wait(context.Background())
		if errA != nil || errB != nil || a.State.Paid.Amount+b.State.Paid.Amount != 3 {
			t.Fatalf("iteration %d: first %+v, %v; second %+v, %v: want one payment each", i, a, errA, b, errB)
		}
	}
	noGoroutineLeft(t, before)
}

// A parent is aborted as its call's child ends: the child's end may come
// before the abort (a completed call, rolled back with the parent's other
// steps), during it, or be the abort's own doing. The parent always ends,
// aborted or done, with one event leaving its call's wait; each run's
// history replays to its Status; the child is undone exactly when it did
// not end done; the parent's Reserve is undone exactly when it aborted.
// TestAbortParentAbortsChild aborts a child still running; here its end
// meets the abort.
func TestAbortAsChildEnds(t *testing.T) {
	before := goruntime.NumGoroutine()
	for i := range iterations() {
		rec := newRecorder()
		sink := runtime.NewMemorySink()
		block := make(chan struct{})
		c := newCallFlows(t, sink, rec, block, false)
		id := fmt.Sprintf("o-%d", i)
		r, err := c.parent.Start(context.Background(), parentState{Req: billing{Amount: 1}}, runtime.WithRunID(id))
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return rec.count("exec Check") == 1 })
		race(func() { close(block) }, func() { _ = r.Abort() })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := r.Wait(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: the parent still waits in %s", id, r.Status().Machine)
		}
		h := sink.History(id)
		consistent(t, r.Status(), h)
		if n := len(leaving(h, "Bill:waiting")); n != 1 {
			t.Fatalf("%s: %d events leave the call's wait: %v", id, n, transitions(h))
		}
		child := id + "@Bill"
		waitUntil(t, func() bool { st, err := c.child.Status(ctx, child); return err == nil && st.State.Terminal() })
		cst, _ := c.child.Status(ctx, child)
		consistent(t, cst, sink.History(child))
		switch {
		case res.Final != runtime.StateAborted && res.Final != runtime.StateDone:
			t.Fatalf("%s: parent final %s (%v)", id, res.Final, err)
		case (res.Final == runtime.StateAborted) != (rec.count("undo Reserve") == 1):
			t.Fatalf("%s: parent final %s, effects %v", id, res.Final, rec.all())
		case (cst.State != runtime.StateDone) != (rec.count("undo Charge") == 1):
			t.Fatalf("%s: child final %s, effects %v", id, cst.State, rec.all())
		case res.Final == runtime.StateDone && cst.State != runtime.StateDone:
			t.Fatalf("%s: parent done, child %s", id, cst.State)
		}
	}
	noGoroutineLeft(t, before)
}

// A run suspended in its wait is resumed (Resume, or ResumeAll as a
// process does on start) while its event is published on the bus, which
// the resumed run may or may not have subscribed to yet: either way it
// takes the event, once, and completes. TestSuspendWhileWaiting resumes
// first and delivers after.
func TestResumeRacesDelivery(t *testing.T) {
	before := goruntime.NumGoroutine()
	for _, all := range []bool{false, true} {
		for i := range iterations() {
			id := fmt.Sprintf("r%d-%v", i, all)
			bus := runtime.NewMemoryBus()
			sink := runtime.NewMemorySink()
			f, _ := orderFlow(t, bus, sink, awaitPaid(time.Hour))
			r, err := f.Start(context.Background(), order{OrderID: id}, runtime.WithRunID(id))
			if err != nil {
				t.Fatal(err)
			}
			waitUntil(t, func() bool { return r.Status().State == runtime.StateWaiting })
			if err := r.Suspend(); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
				t.Fatalf("%s: %v, want suspended", id, err)
			}
			f2, _ := orderFlow(t, bus, sink, awaitPaid(time.Hour)) // the next process
			var r2 *runtime.Run[order]
			race(
				func() {
					if err := bus.Publish(context.Background(), "payments", "paid", map[string]any{"correlation_id": id, "amount": 3}); err != nil {
						t.Error(err)
					}
				},
				func() {
					var err error
					if !all {
						r2, err = f2.Resume(context.Background(), sink.History(id))
					} else if rs, e := f2.ResumeAll(context.Background(), sink); e != nil || len(rs) != 1 {
						err = fmt.Errorf("ResumeAll: %d runs, %v", len(rs), e)
					} else {
						r2 = rs[0]
					}
					if err != nil {
						t.Error(err)
					}
				})
			if r2 == nil {
				t.FailNow()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := r2.Wait(ctx)
			cancel()
			if err != nil || res.State.Paid.Amount != 3 {
				t.Fatalf("%s: resumed run %+v, %v (in %s)", id, res, err, r2.Status().Machine)
			}
			h := sink.History(id)
			consistent(t, r2.Status(), h)
			if n := len(leaving(h, "Pay:waiting")); n != 1 {
				t.Fatalf("%s: %d events leave the wait: %v", id, n, transitions(h))
			}
		}
	}
	noGoroutineLeft(t, before)
}
