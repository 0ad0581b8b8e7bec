package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowgen/flowgen/runtime"
)

// A waiting step whose outcome routes back to itself (a loop) enters its
// waiting state from its running state as a retry of Await.EachAttempt
// does, but it is a new visit: the history records it with a wait counted
// from then and a new key, Replay and CheckHistory read it, and the run
// goes on. Only the outcome retry makes that move a retry.
func TestAwaitLoopIsNotARetry(t *testing.T) {
	for _, each := range []bool{false, true} {
		clock := runtime.NewFakeClock(gateStart)
		sink, sub := runtime.NewMemorySink(), newProbeSub()
		sub.now = []byte(`{}`)
		flow := runtime.New[gateState]("Loop", runtime.WithSink(sink), runtime.WithClock(clock), runtime.WithSubscriber(sub))
		polls := 0
		poll := runtime.NewStep("Poll", func(ctx context.Context, s *gateState) (runtime.Outcome, error) {
			polls++
			if polls == 1 {
				clock.Advance(time.Minute) // the loop's second wait starts later than the first
				return "again", nil
			}
			return "", nil
		}, runtime.WithNext[gateState]("again", "Poll"), runtime.WithIrreversible[gateState]())
		poll.Await = &runtime.Await[gateState]{Topic: "ops", Event: "poll", Timeout: time.Hour, EachAttempt: each}
		if err := flow.Register(poll); err != nil {
			t.Fatal(err)
		}
		r, err := flow.Start(context.Background(), gateState{ID: "l-1"}, runtime.WithRunID("l-1"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(context.Background())
		if res.Final != runtime.StateDone {
			t.Fatalf("each %v: final %s (%v)", each, res.Final, err)
		}
		h := sink.History("l-1")
		if err := flow.CheckHistory(h); err != nil {
			t.Fatalf("each %v: %v", each, err)
		}
		sub.mu.Lock()
		waits := sub.waits
		sub.mu.Unlock()
		if len(waits) != 2 || waits[0].Key != "l-1/Poll" || waits[1].Key != "l-1/Poll#2" || !waits[1].Deadline.Equal(gateStart.Add(time.Minute+time.Hour)) {
			t.Fatalf("each %v: the loop's waits %+v, want a second visit's key and a deadline an hour after it began", each, waits)
		}
	}
}

// edgeFlow reserves (undone by its rollback), then pays: Pay waits for an
// "ops"/"pay.allowed" event of the run's ID before each of its attempts
// (Await.EachAttempt), three at most a minute apart, within an hour, its
// wait within timeout if set; the attempts listed in fail fail (retryable,
// or permanent if perm). Ship follows.
type edgeFlow struct {
	*eachFlow
	reserves, undos int
}

func newEdgeFlow(t *testing.T, clock *runtime.FakeClock, sink *runtime.MemorySink, bus *runtime.MemoryBus, fail map[int]bool, perm bool, timeout time.Duration) *edgeFlow {
	t.Helper()
	f := &edgeFlow{eachFlow: &eachFlow{bus: bus, sink: sink, fail: fail, parked: map[string]bool{}}}
	f.flow = runtime.New[gateState]("Edge", runtime.WithSink(sink), runtime.WithClock(clock), runtime.WithSubscriber(bus),
		runtime.WithRunParked(func(id string, parked bool) { f.mu.Lock(); f.parked[id] = parked; f.mu.Unlock() }))
	reserve := runtime.NewStep("Reserve", func(context.Context, *gateState) (runtime.Outcome, error) {
		f.mu.Lock()
		f.reserves++
		f.mu.Unlock()
		return "", nil
	}, runtime.WithRollback(func(context.Context, *gateState) error {
		f.mu.Lock()
		f.undos++
		f.mu.Unlock()
		return nil
	}))
	pay := runtime.NewStep("Pay", func(ctx context.Context, s *gateState) (runtime.Outcome, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := runtime.Attempt(ctx)
		f.tries, f.keys = append(f.tries, n), append(f.keys, runtime.IdempotencyKey(ctx))
		if f.fail[n] {
			if perm {
				return "", runtime.Permanent(errors.New("card declined"))
			}
			return "", errors.New("card service unavailable")
		}
		s.Charge = "ch-1"
		return "", nil
	}, runtime.WithRetry[gateState](runtime.RetryPolicy{Attempts: 3, Initial: time.Minute}),
		runtime.WithDeadline[gateState](time.Hour), runtime.WithIrreversible[gateState]())
	pay.Await = &runtime.Await[gateState]{Topic: "ops", Event: "pay.allowed", Field: "run", Timeout: timeout,
		Correlate: func(s *gateState) string { return s.ID }, EachAttempt: true}
	if err := f.flow.Register(reserve, pay, runtime.NewStep("Ship", func(context.Context, *gateState) (runtime.Outcome, error) {
		return "", nil
	}, runtime.WithIrreversible[gateState]())); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *edgeFlow) counts() (reserves, undos int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reserves, f.undos
}

// settled checks what a run of f ended as: its history checks against the
// flow, Replay equals Status, and Reserve ran once, undone undos times.
func (f *edgeFlow) settled(t *testing.T, id string, undos int) runtime.Status {
	t.Helper()
	h := f.sink.History(id)
	if err := f.flow.CheckHistory(h); err != nil {
		t.Fatalf("history does not check: %v", err)
	}
	st, err := f.flow.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := runtime.Replay(h)
	if err != nil {
		t.Fatal(err)
	}
	replayed.RunID, replayed.Flow = st.RunID, st.Flow
	if !reflect.DeepEqual(replayed, st) {
		t.Fatalf("status %+v\nreplay %+v", st, replayed)
	}
	if r, u := f.counts(); r != 1 || u != undos {
		t.Fatalf("Reserve ran %d times, undone %d times; want once, undone %d", r, u, undos)
	}
	return st
}

// retryBackingOff waits until run id recorded Pay's first retry (its wait
// again), and is in its backoff: not parked, its timer set.
func (f *edgeFlow) retryBackingOff(t *testing.T, clock *runtime.FakeClock, id string) {
	t.Helper()
	waitUntil(t, func() bool { return len(f.sink.History(id)) == 4 })
	clock.BlockUntil(1)
	if f.isParked(id) {
		t.Fatal("parked during the backoff")
	}
}

func (f *edgeFlow) start(t *testing.T, id string) *runtime.Run[gateState] {
	t.Helper()
	r, err := f.flow.Start(context.Background(), gateState{ID: id}, runtime.WithRunID(id))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, id, 2)
	f.allow(t, id)
	return r
}

// An abort during the backoff after a retry that waits, or while that
// retry waits, ends the run aborted: Reserve is undone once, Pay never
// runs again, and the history checks and replays to the status.
func TestAwaitEachAttemptAbort(t *testing.T) {
	for _, during := range []string{"backoff", "wait"} {
		t.Run(during, func(t *testing.T) {
			clock := runtime.NewFakeClock(gateStart)
			f := newEdgeFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), map[int]bool{1: true}, false, 0)
			r := f.start(t, "a-1")
			f.retryBackingOff(t, clock, "a-1")
			if during == "wait" {
				clock.Advance(time.Minute)
				f.waiting(t, "a-1", 4)
			}
			if err := r.Abort(); err != nil {
				t.Fatal(err)
			}
			res, err := r.Wait(context.Background())
			if res.Final != runtime.StateAborted {
				t.Fatalf("final %s (%v)", res.Final, err)
			}
			f.allow(t, "a-1") // nobody waits: nothing runs
			f.settled(t, "a-1", 1)
			if tries, _ := f.attempts(); !slices.Equal(tries, []int{1}) {
				t.Fatalf("attempts %v, want 1 only", tries)
			}
		})
	}
}

// A Suspend during the backoff stops the run in the waiting state the
// retry recorded; Resume (a new process) waits out the rest of the
// backoff, then waits there and runs attempt 2, under the same key.
func TestAwaitEachAttemptSuspendInBackoff(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	f := newEdgeFlow(t, clock, sink, bus, map[int]bool{1: true}, false, 0)
	r := f.start(t, "s-1")
	f.retryBackingOff(t, clock, "s-1")
	if err := r.Suspend(); err != nil {
		t.Fatal(err)
	}
	res, err := r.Wait(context.Background())
	if !errors.Is(err, runtime.ErrSuspended) || res.Final != runtime.StateWaiting {
		t.Fatalf("suspended during the backoff: %s (%v)", res.Final, err)
	}
	f2 := newEdgeFlow(t, clock, sink, bus, map[int]bool{1: true}, false, 0)
	r2, err := f2.flow.Resume(context.Background(), sink.History("s-1"))
	if err != nil {
		t.Fatal(err)
	}
	backingOff(t, clock, func() bool { return f2.isParked("s-1") })
	clock.Advance(time.Minute)
	st := f2.waiting(t, "s-1", 4)
	if st.Attempt != 2 || st.Err != "card service unavailable" {
		t.Fatalf("resumed: attempt %d error %q", st.Attempt, st.Err)
	}
	f2.allow(t, "s-1")
	if res, err := r2.Wait(context.Background()); res.Final != runtime.StateDone {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	tries, keys := f2.attempts()
	if !slices.Equal(tries, []int{2}) || keys[0] != "s-1/Pay" {
		t.Fatalf("resumed run's attempts %v keys %v", tries, keys)
	}
	if r, _ := f2.counts(); r != 0 {
		t.Fatalf("Reserve ran again after Resume")
	}
}

// A crash right after the retry's event, or right after the event that
// ends its wait: the run resumed from that history checks, its status is
// the replay's, and it runs attempt 2 once (not 1, not 3) under the same
// key; Reserve never runs again.
func TestAwaitEachAttemptCrash(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	f := newEdgeFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), map[int]bool{1: true}, false, 0)
	r := f.start(t, "c-1")
	f.retryBackingOff(t, clock, "c-1")
	clock.Advance(time.Minute)
	f.waiting(t, "c-1", 4)
	f.allow(t, "c-1")
	if res, err := r.Wait(context.Background()); res.Final != runtime.StateDone {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	full := f.sink.History("c-1")
	for _, cut := range []int{4, 5} { // after Pay:running -> Pay:waiting; after Pay:waiting -> Pay:running
		prefix := full[:cut]
		if err := f.flow.CheckHistory(prefix); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		sink := runtime.NewMemorySink()
		for _, e := range prefix {
			_ = sink.Emit(context.Background(), e)
		}
		bus := runtime.NewMemoryBus()
		g := newEdgeFlow(t, clock, sink, bus, map[int]bool{1: true}, false, 0)
		run, err := g.flow.Resume(context.Background(), prefix)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if cut == 4 {
			st := g.waiting(t, "c-1", 4)
			if st.Attempt != 2 || st.Err != "card service unavailable" || st.Wait == nil || !st.Wait.Deadline.Equal(gateStart.Add(time.Hour)) {
				t.Fatalf("cut %d: status attempt %d err %q wait %+v", cut, st.Attempt, st.Err, st.Wait)
			}
			g.allow(t, "c-1")
		}
		if res, err := run.Wait(context.Background()); res.Final != runtime.StateDone {
			t.Fatalf("cut %d: final %s (%v)", cut, res.Final, err)
		}
		tries, keys := g.attempts()
		if !slices.Equal(tries, []int{2}) || keys[0] != "c-1/Pay" {
			t.Fatalf("cut %d: attempts %v keys %v, want 2 under c-1/Pay", cut, tries, keys)
		}
		h := sink.History("c-1")
		if err := g.flow.CheckHistory(h); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if len(h) != len(full) {
			t.Fatalf("cut %d: %d events, the uninterrupted run %d", cut, len(h), len(full))
		}
		if r, _ := g.counts(); r != 0 {
			t.Fatalf("cut %d: Reserve ran again", cut)
		}
	}
}

// The last attempt's failure fails the step: it does not wait again. A
// permanent error fails it at once. Reserve is undone once either way.
func TestAwaitEachAttemptExhausted(t *testing.T) {
	for _, perm := range []bool{false, true} {
		clock := runtime.NewFakeClock(gateStart)
		f := newEdgeFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), map[int]bool{1: true, 2: true, 3: true}, perm, 0)
		r := f.start(t, "x-1")
		want := []int{1}
		if !perm {
			want = []int{1, 2, 3}
			for n := 1; n < 3; n++ {
				waitUntil(t, func() bool { return len(f.sink.History("x-1")) == 2+2*n })
				clock.BlockUntil(1)
				clock.Advance(5 * time.Minute) // past the backoff, whatever its growth
				f.waiting(t, "x-1", 2+2*n)
				f.allow(t, "x-1")
			}
		}
		res, err := r.Wait(context.Background())
		var se *runtime.StepError
		if res.Final != runtime.StateCompensated || !errors.As(err, &se) || se.Step != "Pay" || se.Attempt != len(want) {
			t.Fatalf("perm %v: final %s (%v)", perm, res.Final, err)
		}
		if tries, _ := f.attempts(); !slices.Equal(tries, want) {
			t.Fatalf("perm %v: attempts %v, want %v", perm, tries, want)
		}
		f.settled(t, "x-1", 1)
		h := f.sink.History("x-1")
		for _, e := range h {
			if e.From == runtime.RunningState("Pay") && e.To == runtime.WaitingState("Pay") && e.Attempt >= len(want) {
				t.Fatalf("perm %v: the last attempt waits again: %+v", perm, e)
			}
		}
	}
}

// The await's Timeout counts from when the step was entered for every
// wait: a retry whose backoff ends after it waits no more, and the step
// ends timeout (Pay has no "on timeout": the run is compensated).
func TestAwaitEachAttemptTimeout(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	f := newEdgeFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), map[int]bool{1: true}, false, 30*time.Minute)
	r, err := f.flow.Start(context.Background(), gateState{ID: "t-1"}, runtime.WithRunID("t-1"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "t-1", 2)
	clock.Advance(29*time.Minute + 30*time.Second)
	f.allow(t, "t-1")
	f.retryBackingOff(t, clock, "t-1")
	retry := f.sink.History("t-1")[3]
	if retry.Wait == nil || !retry.Wait.Deadline.Equal(gateStart.Add(30*time.Minute)) {
		t.Fatalf("the retry's wait %+v, want the first wait's timeout", retry.Wait)
	}
	clock.Advance(time.Minute)
	res, err := r.Wait(context.Background())
	var se *runtime.StepError
	if res.Final != runtime.StateCompensated || !errors.As(err, &se) || se.Outcome != runtime.OutcomeTimeout {
		t.Fatalf("final %s (%v), want compensated after Pay's timeout", res.Final, err)
	}
	if tries, _ := f.attempts(); !slices.Equal(tries, []int{1}) {
		t.Fatalf("attempts %v", tries)
	}
	f.settled(t, "t-1", 1)
}

// A retry whose backoff would end past the step's Deadline is not taken:
// the attempt's failure fails the step (NoTimeForRetry), without waiting
// again.
func TestAwaitEachAttemptNoTimeForRetry(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	f := newEdgeFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), map[int]bool{1: true}, false, 0)
	r, err := f.flow.Start(context.Background(), gateState{ID: "n-1"}, runtime.WithRunID("n-1"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "n-1", 2)
	clock.Advance(59*time.Minute + 30*time.Second)
	f.allow(t, "n-1")
	res, err := r.Wait(context.Background())
	var se *runtime.StepError
	if res.Final != runtime.StateCompensated || !errors.As(err, &se) || se.Step != "Pay" || se.Attempt != 1 {
		t.Fatalf("final %s (%v), want compensated after Pay's first attempt", res.Final, err)
	}
	for _, e := range f.sink.History("n-1") {
		if e.Outcome == runtime.OutcomeRetry {
			t.Fatalf("a retry was recorded: %+v", e)
		}
	}
	f.settled(t, "n-1", 1)
}

// A run whose Pay fails twice, each retry waiting again, resumed from
// every prefix of its history (a crash after each event): it ends as the
// uninterrupted run did, with the same history but for the times, runs
// every attempt of Pay once across the crash (the one in flight again,
// under the same key) and Reserve once.
func TestAwaitEachAttemptResumeFromEveryPrefix(t *testing.T) {
	build := func(sink *runtime.MemorySink, allows int) (*runtime.Flow[gateState], *[]int, *int, *runtime.MemoryBus) {
		var mu sync.Mutex
		tries, reserves := &[]int{}, new(int)
		bus := runtime.NewMemoryBus()
		for range allows { // the bus keeps them for the waits to come
			if err := bus.Publish(context.Background(), "ops", "pay.allowed", json.RawMessage(`{"run":"p"}`)); err != nil {
				t.Fatal(err)
			}
		}
		f := runtime.New[gateState]("Prefix", runtime.WithSink(sink), runtime.WithClock(runtime.NewAutoClock(gateStart)), runtime.WithSubscriber(bus))
		pay := runtime.NewStep("Pay", func(ctx context.Context, s *gateState) (runtime.Outcome, error) {
			mu.Lock()
			defer mu.Unlock()
			n := runtime.Attempt(ctx)
			if runtime.IdempotencyKey(ctx) != "p/Pay" {
				t.Errorf("attempt %d under key %q", n, runtime.IdempotencyKey(ctx))
			}
			*tries = append(*tries, n)
			if n < 3 {
				return "", errors.New("card service unavailable")
			}
			s.Charge = "ch-1"
			return "", nil
		}, runtime.WithRetry[gateState](runtime.RetryPolicy{Attempts: 3, Initial: time.Minute}), runtime.WithIrreversible[gateState]())
		pay.Await = &runtime.Await[gateState]{Topic: "ops", Event: "pay.allowed", Field: "run",
			Correlate: func(s *gateState) string { return s.ID }, EachAttempt: true}
		if err := f.Register(runtime.NewStep("Reserve", func(context.Context, *gateState) (runtime.Outcome, error) {
			mu.Lock()
			*reserves++
			mu.Unlock()
			return "", nil
		}, runtime.WithRollback(func(context.Context, *gateState) error { return nil })), pay,
			runtime.NewStep("Ship", func(context.Context, *gateState) (runtime.Outcome, error) { return "", nil }, runtime.WithIrreversible[gateState]())); err != nil {
			t.Fatal(err)
		}
		return f, tries, reserves, bus
	}
	fullSink := runtime.NewMemorySink()
	f, _, _, _ := build(fullSink, 3)
	if res, err := f.Execute(context.Background(), gateState{ID: "p"}, runtime.WithRunID("p")); res.Final != runtime.StateDone {
		t.Fatalf("uninterrupted run: %s (%v)", res.Final, err)
	}
	full := fullSink.History("p")
	if len(full) != 9 { // started, Pay waits, then (woken, retry that waits) twice, woken, Ship, done
		t.Fatalf("uninterrupted run: %d events", len(full))
	}
	ignore := cmpopts.IgnoreFields(runtime.Event{}, "Time", "RetryAt")
	for i := 1; i < len(full); i++ {
		prefix := full[:i]
		sink := runtime.NewMemorySink()
		for _, e := range prefix {
			_ = sink.Emit(context.Background(), e)
		}
		g, tries, reserves, _ := build(sink, 3)
		r, err := g.Resume(context.Background(), prefix)
		if err != nil {
			t.Fatalf("prefix %d: %v", i, err)
		}
		if res, err := r.Wait(context.Background()); res.Final != runtime.StateDone || res.State.Charge != "ch-1" {
			t.Fatalf("prefix %d: %s (%v)", i, res.Final, err)
		}
		if diff := cmp.Diff(full, sink.History("p"), ignore); diff != "" {
			t.Fatalf("prefix %d: history (-uninterrupted +resumed):\n%s", i, diff)
		}
		ended, reserved := 0, 0
		for _, e := range prefix {
			switch e.From {
			case runtime.RunningState("Pay"):
				ended++
			case runtime.RunningState("Reserve"):
				reserved = 1
			}
		}
		var want []int
		for n := ended + 1; n <= 3; n++ {
			want = append(want, n)
		}
		if !slices.Equal(*tries, want) || *reserves != 1-reserved {
			t.Fatalf("prefix %d: Pay ran attempts %v (want %v), Reserve %d times", i, *tries, want, *reserves)
		}
	}
}
