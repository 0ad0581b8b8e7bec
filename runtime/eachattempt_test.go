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

	"github.com/flowgen/flowgen/runtime"
)

// eachFlow's step Pay waits for an "ops"/"pay.allowed" event of the run's
// ID before each of its three attempts (Await.EachAttempt), within its
// hour's deadline; attempts listed in fail fail (retryable). Ship follows.
type eachFlow struct {
	flow   *runtime.Flow[gateState]
	bus    *runtime.MemoryBus
	sink   *runtime.MemorySink
	mu     sync.Mutex
	fail   map[int]bool
	tries  []int    // the attempts of Pay, as their contexts say
	keys   []string // their idempotency keys
	parked map[string]bool
	closed int // attempts to come that find their gate closed (runtime.GateClosed)
}

func newEachFlow(t *testing.T, clock *runtime.FakeClock, sink *runtime.MemorySink, bus *runtime.MemoryBus, each bool) *eachFlow {
	t.Helper()
	f := &eachFlow{bus: bus, sink: sink, fail: map[int]bool{1: true}, parked: map[string]bool{}}
	f.flow = runtime.New[gateState]("Each", runtime.WithSink(sink), runtime.WithClock(clock), runtime.WithSubscriber(bus),
		runtime.WithRunParked(func(id string, parked bool) { f.mu.Lock(); f.parked[id] = parked; f.mu.Unlock() }))
	pay := runtime.NewStep("Pay", func(ctx context.Context, s *gateState) (runtime.Outcome, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := runtime.Attempt(ctx)
		f.tries, f.keys = append(f.tries, n), append(f.keys, runtime.IdempotencyKey(ctx))
		if f.closed > 0 {
			f.closed--
			return "", runtime.GateClosed(errors.New("the card service is gone"))
		}
		if f.fail[n] {
			return "", errors.New("card service unavailable")
		}
		s.Charge = "ch-1"
		return "", nil
	}, runtime.WithRetry[gateState](runtime.RetryPolicy{Attempts: 3, Initial: time.Minute}),
		runtime.WithDeadline[gateState](time.Hour), runtime.WithIrreversible[gateState]())
	pay.Await = &runtime.Await[gateState]{Topic: "ops", Event: "pay.allowed", Field: "run",
		Correlate: func(s *gateState) string { return s.ID }, EachAttempt: each}
	if err := f.flow.Register(pay, runtime.NewStep("Ship", func(context.Context, *gateState) (runtime.Outcome, error) {
		return "", nil
	}, runtime.WithIrreversible[gateState]())); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *eachFlow) allow(t *testing.T, run string) {
	t.Helper()
	if err := f.bus.Publish(context.Background(), "ops", "pay.allowed", json.RawMessage(`{"run":"`+run+`"}`)); err != nil {
		t.Fatal(err)
	}
}

// waiting waits until run id waits in Pay:waiting with n events recorded
// and returns its status.
func (f *eachFlow) waiting(t *testing.T, id string, n int) runtime.Status {
	t.Helper()
	var st runtime.Status
	defer func() {
		if t.Failed() {
			for _, e := range st.History {
				t.Logf("%d %s -> %s %s %d %q", e.Seq, e.From, e.To, e.Outcome, e.Attempt, e.Error)
			}
			t.Logf("parked %v machine %s", f.isParked(id), st.Machine)
		}
	}()
	waitUntil(t, func() bool {
		var err error
		st, err = f.flow.Status(context.Background(), id)
		return err == nil && st.Machine == runtime.WaitingState("Pay") && len(st.History) == n && f.isParked(id)
	})
	return st
}

// backoff waits until run id recorded its first attempt's retry, and
// passes the retry's backoff (a minute).
func (f *eachFlow) backoff(t *testing.T, clock *runtime.FakeClock, id string) {
	t.Helper()
	waitUntil(t, func() bool { return len(f.sink.History(id)) == 3 })
	clock.BlockUntil(1)
	clock.Advance(time.Minute)
}

func (f *eachFlow) isParked(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parked[id]
}

func (f *eachFlow) attempts() ([]int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tries), slices.Clone(f.keys)
}

// A step whose every attempt waits: the failed attempt's retry takes the
// run back to the waiting state, recorded (outcome retry, its error, the
// wait with the first wait's deadline), after its backoff; the status
// shows the next attempt and why the last failed, and equals the replay
// of the history; the event runs attempt 2 in the same visit, under the
// same idempotency key.
func TestAwaitEachAttempt(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	f := newEachFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), true)
	r, err := f.flow.Start(context.Background(), gateState{ID: "e-1"}, runtime.WithRunID("e-1"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "e-1", 1)
	f.allow(t, "e-1")
	f.backoff(t, clock, "e-1")
	st := f.waiting(t, "e-1", 3)
	if st.State != runtime.StateWaiting || st.Attempt != 2 || st.Err != "card service unavailable" ||
		st.Wait == nil || !st.Wait.Deadline.Equal(gateStart.Add(time.Hour)) || st.Wait.Correlation != "e-1" {
		t.Fatalf("status while the retry waits: %s attempt %d error %q wait %+v", st.State, st.Attempt, st.Err, st.Wait)
	}
	retry := st.History[2]
	if retry.From != runtime.RunningState("Pay") || retry.To != runtime.WaitingState("Pay") || retry.Outcome != runtime.OutcomeRetry ||
		retry.Attempt != 1 || retry.Error != "card service unavailable" || retry.Wait == nil {
		t.Fatalf("the retry's event: %+v (wait %+v)", retry, retry.Wait)
	}
	replayed, err := runtime.Replay(st.History)
	if err != nil {
		t.Fatal(err)
	}
	replayed.RunID, replayed.Flow = st.RunID, st.Flow
	if !reflect.DeepEqual(replayed, st) {
		t.Fatalf("status %+v\nreplay %+v", st, replayed)
	}
	f.allow(t, "e-1")
	res, err := r.Wait(context.Background())
	if res.Final != runtime.StateDone || res.State.Charge != "ch-1" {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	tries, keys := f.attempts()
	if !slices.Equal(tries, []int{1, 2}) || keys[0] != keys[1] || keys[0] != "e-1/Pay" {
		t.Fatalf("attempts %v with keys %v, want 1 and 2 under one key", tries, keys)
	}
	if err := f.flow.CheckHistory(f.sink.History("e-1")); err != nil {
		t.Fatalf("the history does not check against its flow: %v", err)
	}
	// Without EachAttempt, the same history is not the flow's.
	other := newEachFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), false)
	if err := other.flow.CheckHistory(f.sink.History("e-1")); err == nil {
		t.Fatal("a flow whose retries do not wait accepts a retry that waits")
	}
}

// The step's deadline bounds the waits of its retries as it bounds the
// first: it passes while the retry waits, and the step ends timeout.
func TestAwaitEachAttemptDeadline(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	f := newEachFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus(), true)
	r, err := f.flow.Start(context.Background(), gateState{ID: "e-2"}, runtime.WithRunID("e-2"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "e-2", 1)
	clock.Advance(50 * time.Minute)
	f.allow(t, "e-2")
	f.backoff(t, clock, "e-2")
	f.waiting(t, "e-2", 3)
	// The retry's wait arms its deadline's timer after it parks: advancing
	// before that would leave the timer a minute to go that never passes.
	clock.BlockUntil(1)
	clock.Advance(9 * time.Minute)
	res, err := r.Wait(context.Background())
	var se *runtime.StepError
	if res.Final != runtime.StateFailed || !errors.As(err, &se) || se.Outcome != runtime.OutcomeTimeout {
		t.Fatalf("final %s (%v), want failed by the step's timeout", res.Final, err)
	}
	if tries, _ := f.attempts(); !slices.Equal(tries, []int{1}) {
		t.Fatalf("attempts %v, want only the first", tries)
	}
}

// A run suspended while a retry waits, resumed by another flow value (a
// new process), waits again with the recorded deadline, and the event runs
// the attempt that was next, not the first again.
func TestAwaitEachAttemptResumes(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	f := newEachFlow(t, clock, sink, bus, true)
	r, err := f.flow.Start(context.Background(), gateState{ID: "e-3"}, runtime.WithRunID("e-3"))
	if err != nil {
		t.Fatal(err)
	}
	f.waiting(t, "e-3", 1)
	f.allow(t, "e-3")
	f.backoff(t, clock, "e-3")
	f.waiting(t, "e-3", 3)
	if err := r.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("suspended run: %v", err)
	}
	clock.Advance(10 * time.Minute)

	f2 := newEachFlow(t, clock, sink, bus, true)
	r2, err := f2.flow.Resume(context.Background(), sink.History("e-3"))
	if err != nil {
		t.Fatal(err)
	}
	st := f2.waiting(t, "e-3", 3)
	if st.Attempt != 2 || st.Wait == nil || !st.Wait.Deadline.Equal(gateStart.Add(time.Hour)) {
		t.Fatalf("after Resume: attempt %d, wait %+v", st.Attempt, st.Wait)
	}
	f2.allow(t, "e-3")
	res, err := r2.Wait(context.Background())
	if res.Final != runtime.StateDone {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	if tries, _ := f2.attempts(); !slices.Equal(tries, []int{2}) {
		t.Fatalf("the resumed run ran attempts %v, want 2", tries)
	}
}
