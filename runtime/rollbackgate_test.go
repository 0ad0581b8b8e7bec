package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// gateState is the state of gateFlow's runs.
type gateState struct {
	ID     string `json:"id"`
	Charge string `json:"charge"`
}

// gateFlow pays, then fails to ship; Pay's rollback waits for an
// "ops"/"refund.allowed" event of the run's ID (an hour at most) before
// each of its two attempts.
type gateFlow struct {
	flow   *runtime.Flow[gateState]
	bus    *runtime.MemoryBus
	clock  *runtime.FakeClock
	sink   *runtime.MemorySink
	rec    *recorder
	mu     sync.Mutex
	parked map[string]bool
	// hold, when set before the run starts, holds each rollback attempt
	// once it ran (its effect recorded) until it is closed.
	hold chan struct{}
	// closed: rollback attempts to come that find their gate closed
	// (runtime.GateClosed), set before the run starts.
	closed int
}

func newGateFlow(t *testing.T, clock *runtime.FakeClock, sink *runtime.MemorySink, bus *runtime.MemoryBus, opts ...runtime.Option) *gateFlow {
	t.Helper()
	g := &gateFlow{bus: bus, clock: clock, sink: sink, rec: newRecorder(), parked: map[string]bool{}}
	g.flow = runtime.New[gateState]("Gate", append([]runtime.Option{runtime.WithSink(sink), runtime.WithClock(clock), runtime.WithSubscriber(bus),
		runtime.WithRunParked(func(id string, parked bool) { g.mu.Lock(); g.parked[id] = parked; g.mu.Unlock() })}, opts...)...)
	pay := runtime.NewStep("Pay", func(ctx context.Context, s *gateState) (runtime.Outcome, error) {
		g.rec.add("pay", ctx)
		s.Charge = "ch-1"
		return "", nil
	}, runtime.WithRollback(func(ctx context.Context, s *gateState) error {
		g.rec.add("refund "+s.Charge, ctx)
		g.mu.Lock()
		closed := g.closed > 0
		if closed {
			g.closed--
		}
		g.mu.Unlock()
		if closed {
			return runtime.GateClosed(errors.New("the refund service is gone"))
		}
		if g.hold != nil {
			<-g.hold
		}
		return nil
	}), runtime.WithRollbackRetry[gateState](runtime.RetryPolicy{Attempts: 2, Initial: time.Minute}))
	pay.RollbackAwait = &runtime.Await[gateState]{Topic: "ops", Event: "refund.allowed", Field: "run",
		Correlate: func(s *gateState) string { return s.ID }, Timeout: time.Hour}
	if err := g.flow.Register(pay, runtime.NewStep("Ship", func(context.Context, *gateState) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("no parcel service"))
	}, runtime.WithIrreversible[gateState]())); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *gateFlow) isParked(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.parked[id]
}

func (g *gateFlow) allow(t *testing.T, run string) {
	t.Helper()
	if err := g.bus.Publish(context.Background(), "ops", "refund.allowed", json.RawMessage(`{"run":"`+run+`"}`)); err != nil {
		t.Fatal(err)
	}
}

// waitsInRollback waits until run id is parked before an attempt of
// Pay's rollback and returns its status.
func (g *gateFlow) waitsInRollback(t *testing.T, id string) runtime.Status {
	t.Helper()
	var st runtime.Status
	waitUntil(t, func() bool {
		var err error
		st, err = g.flow.Status(context.Background(), id)
		return err == nil && g.isParked(id) && st.Machine == runtime.RollbackState("Pay")
	})
	return st
}

var gateStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// A gated rollback parks: the run holds no goroutine, its status and the
// event that started the attempt show what it waits for and until when, an
// abort and an event for another run change nothing, and the awaited event
// runs the attempt.
func TestRollbackAwaitParks(t *testing.T) {
	g := newGateFlow(t, runtime.NewFakeClock(gateStart), runtime.NewMemorySink(), runtime.NewMemoryBus())
	r, err := g.flow.Start(context.Background(), gateState{ID: "g-1"}, runtime.WithRunID("g-1"))
	if err != nil {
		t.Fatal(err)
	}
	st := g.waitsInRollback(t, "g-1")
	if st.State != runtime.StateRollingBack || st.Wait == nil || st.Wait.Topic != "ops" || st.Wait.Correlation != "g-1" ||
		!st.Wait.Deadline.Equal(gateStart.Add(time.Hour)) {
		t.Fatalf("status while the rollback waits: %s, wait %+v", st.State, st.Wait)
	}
	started := eventsTo(g.sink.History("g-1"), runtime.RollbackState("Pay"))
	if len(started) != 1 || started[0].Wait == nil || started[0].Wait.Event != "refund.allowed" {
		t.Fatalf("the event starting the rollback: %+v", started)
	}
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	g.allow(t, "g-other")
	time.Sleep(10 * time.Millisecond)
	if !g.isParked("g-1") || g.rec.count("refund ch-1") != 0 {
		t.Fatalf("an abort or another run's event moved the rollback: parked %v, effects %v", g.isParked("g-1"), g.rec.all())
	}
	g.allow(t, "g-1")
	res, err := r.Wait(context.Background())
	if res.Final != runtime.StateCompensated {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	if got := g.rec.all(); !slices.Equal(got, []string{"pay", "refund ch-1"}) {
		t.Fatalf("effects %v", got)
	}
}

// Each attempt waits at most the await's hour, counted from the event that
// started it (the retry, for the second); a wait that times out fails the attempt, the retry starts a
// new wait, and when every attempt timed out the run ends
// compensation_failed without the rollback having run.
func TestRollbackAwaitTimesOut(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	g := newGateFlow(t, clock, runtime.NewMemorySink(), runtime.NewMemoryBus())
	r, err := g.flow.Start(context.Background(), gateState{ID: "g-2"}, runtime.WithRunID("g-2"))
	if err != nil {
		t.Fatal(err)
	}
	g.waitsInRollback(t, "g-2")
	clock.Advance(time.Hour)
	waitUntil(t, func() bool { return len(eventsTo(g.sink.History("g-2"), runtime.RollbackState("Pay"))) == 2 })
	clock.BlockUntil(1) // the retry's backoff
	clock.Advance(time.Minute)
	st := g.waitsInRollback(t, "g-2")
	// The retry event, at the first wait's deadline, starts the second
	// attempt, its backoff included.
	if want := gateStart.Add(2 * time.Hour); st.Wait == nil || !st.Wait.Deadline.Equal(want) {
		t.Fatalf("the second attempt waits %+v, want until %v", st.Wait, want)
	}
	clock.Advance(time.Hour)
	res, err := r.Wait(context.Background())
	var rbErr *runtime.RollbackError
	if res.Final != runtime.StateCompensationFailed || !errors.As(err, &rbErr) || !errors.Is(err, runtime.ErrTimeout) {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	if g.rec.count("refund ch-1") != 0 {
		t.Fatalf("the rollback ran without its event: %v", g.rec.all())
	}
}

// A run suspended while its rollback waits, resumed later by another flow
// value (a new process), parks again with the deadline its history
// recorded, not a new one, and the event still runs the attempt.
func TestRollbackAwaitResumes(t *testing.T) {
	clock := runtime.NewFakeClock(gateStart)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	g := newGateFlow(t, clock, sink, bus)
	r, err := g.flow.Start(context.Background(), gateState{ID: "g-3"}, runtime.WithRunID("g-3"))
	if err != nil {
		t.Fatal(err)
	}
	g.waitsInRollback(t, "g-3")
	if err := r.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("suspended run: %v", err)
	}
	clock.Advance(30 * time.Minute)

	g2 := newGateFlow(t, clock, sink, bus)
	r2, err := g2.flow.Resume(context.Background(), sink.History("g-3"))
	if err != nil {
		t.Fatal(err)
	}
	st := g2.waitsInRollback(t, "g-3")
	if st.Wait == nil || !st.Wait.Deadline.Equal(gateStart.Add(time.Hour)) {
		t.Fatalf("after Resume the rollback waits %+v, want the recorded deadline %v", st.Wait, gateStart.Add(time.Hour))
	}
	g2.allow(t, "g-3")
	res, err := r2.Wait(context.Background())
	if res.Final != runtime.StateCompensated || g2.rec.count("refund ch-1") != 1 {
		t.Fatalf("final %s (%v), effects %v", res.Final, err, g2.rec.all())
	}
}

// A gated rollback's wait judges the event's received time against its
// deadline as an await does (Wait.InTime): a run resumed after the deadline
// runs the attempt on an event its Subscriber received before it, and
// refuses one received after it (the attempt times out), whichever the
// resumed run hears of first.
func TestRollbackAwaitEventReceivedBeforeItsDeadlineResumedLate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		received time.Time
		took     bool
	}{
		{"received before the deadline", gateStart.Add(time.Hour - time.Minute), true},
		{"received at the deadline", gateStart.Add(time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
			g := newGateFlow(t, runtime.NewFakeClock(gateStart), sink, bus)
			r, err := g.flow.Start(context.Background(), gateState{ID: "g-5"}, runtime.WithRunID("g-5"))
			if err != nil {
				t.Fatal(err)
			}
			g.waitsInRollback(t, "g-5")
			if err := r.Suspend(); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
				t.Fatalf("suspended run: %v", err)
			}
			n := len(sink.History("g-5"))

			// A new process, after the first attempt's deadline.
			rec := &recordedSub{msg: runtime.Delivery{Payload: []byte(`{"run":"g-5"}`), Received: tc.received}, took: make(chan bool, 4)}
			late := runtime.NewFakeClock(gateStart.Add(2 * time.Hour))
			g2 := newGateFlow(t, late, sink, bus, runtime.WithSubscriber(rec), runtime.WithClock(dueFirstClock{late}))
			r2, err := g2.flow.Resume(context.Background(), sink.History("g-5"))
			if err != nil {
				t.Fatal(err)
			}
			waitUntil(t, func() bool { return len(sink.History("g-5")) > n })
			if e := sink.History("g-5")[n]; e.Woke() != tc.took {
				t.Fatalf("the wait ended %s -> %s %s %q, want the event taken: %v", e.From, e.To, e.Outcome, e.Error, tc.took)
			}
			if took := <-rec.took; took != tc.took {
				t.Errorf("the run took the event: %v", took)
			}
			if !tc.took { // the retry, after its backoff, waits again and takes it
				late.BlockUntil(1)
				late.Advance(time.Minute)
			}
			if res, err := r2.Wait(context.Background()); res.Final != runtime.StateCompensated {
				t.Fatalf("final %s (%v)", res.Final, err)
			}
		})
	}
}

// The awaited event's coming is recorded (the rollback's state to itself,
// with no outcome), so that while the attempt runs the status says it no
// longer waits, and a run that crashed during the attempt runs it again,
// with the same idempotency key, rather than waiting for an event that
// came already. A flow whose rollback is not gated refuses such a history.
func TestRollbackAwaitGateRecorded(t *testing.T) {
	sink := runtime.NewMemorySink()
	g := newGateFlow(t, runtime.NewFakeClock(gateStart), sink, runtime.NewMemoryBus())
	g.hold = make(chan struct{})
	r, err := g.flow.Start(context.Background(), gateState{ID: "g-4"}, runtime.WithRunID("g-4"))
	if err != nil {
		t.Fatal(err)
	}
	g.waitsInRollback(t, "g-4")
	g.allow(t, "g-4")
	waitUntil(t, func() bool { return g.rec.count("refund ch-1") == 1 })
	st, err := g.flow.Status(context.Background(), "g-4")
	if err != nil {
		t.Fatal(err)
	}
	last := st.History[len(st.History)-1]
	if last.From != runtime.RollbackState("Pay") || last.To != last.From || last.Outcome != "" || last.Wait != nil ||
		string(last.Payload) != `{"run":"g-4"}` {
		t.Fatalf("the event recording the gate: %+v", last)
	}
	if st.Wait != nil || st.Attempt != 1 || st.State != runtime.StateRollingBack {
		t.Fatalf("status while the attempt runs: %s, attempt %d, wait %+v", st.State, st.Attempt, st.Wait)
	}
	if replayed, err := runtime.Replay(st.History); err != nil || replayed.Wait != nil || replayed.Attempt != 1 {
		t.Fatalf("Replay: %+v, %v", replayed, err)
	}

	// The process dies here: another resumes the history as it stands.
	crashed := sink.History("g-4")
	sink2 := runtime.NewMemorySink()
	for _, e := range crashed {
		if err := sink2.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	g2 := newGateFlow(t, runtime.NewFakeClock(gateStart), sink2, runtime.NewMemoryBus())
	r2, err := g2.flow.Resume(context.Background(), crashed)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r2.Wait(context.Background())
	if res.Final != runtime.StateCompensated || g2.rec.count("refund ch-1") != 1 {
		t.Fatalf("resumed after the gate opened: %s (%v), effects %v", res.Final, err, g2.rec.all())
	}
	if k1, k2 := g.rec.keys("refund ch-1"), g2.rec.keys("refund ch-1"); !slices.Equal(k1, k2) {
		t.Fatalf("the attempt ran again with key %q, first with %q", k2, k1)
	}
	if n := len(eventsTo(sink2.History("g-4"), runtime.RollbackState("Pay"))); n != 2 {
		t.Fatalf("%d events enter Pay's rollback after the resume, want the two before it", n)
	}
	close(g.hold)
	if res, err := r.Wait(context.Background()); res.Final != runtime.StateCompensated {
		t.Fatalf("the first run: %s (%v)", res.Final, err)
	}

	ungated := runtime.New[gateState]("Gate")
	if err := ungated.Register(runtime.NewStep("Pay", func(context.Context, *gateState) (runtime.Outcome, error) { return "", nil },
		runtime.WithRollback(func(context.Context, *gateState) error { return nil })),
		runtime.NewStep("Ship", func(context.Context, *gateState) (runtime.Outcome, error) { return "", nil },
			runtime.WithIrreversible[gateState]())); err != nil {
		t.Fatal(err)
	}
	var he *runtime.HistoryError
	if err := ungated.CheckHistory(crashed); !errors.As(err, &he) {
		t.Fatalf("an ungated rollback's history with the gate's event: %v", err)
	}
}

// RollbackAwait needs a Rollback that is not a call, an event to await,
// and a Subscriber.
func TestRollbackAwaitDefinition(t *testing.T) {
	exec := func(context.Context, *gateState) (runtime.Outcome, error) { return "", nil }
	undo := runtime.WithRollback(func(context.Context, *gateState) error { return nil })
	gate := &runtime.Await[gateState]{Topic: "ops", Event: "refund.allowed"}
	for name, c := range map[string]struct {
		step *runtime.Step[gateState]
		opts []runtime.Option
		want error
	}{
		"no rollback":   {runtime.NewStep("A", exec), []runtime.Option{runtime.WithSubscriber(runtime.NewMemoryBus())}, runtime.ErrDefinition},
		"no event":      {runtime.NewStep("A", exec, undo), []runtime.Option{runtime.WithSubscriber(runtime.NewMemoryBus())}, runtime.ErrDefinition},
		"no subscriber": {runtime.NewStep("A", exec, undo), nil, runtime.ErrNotConfigured},
	} {
		t.Run(name, func(t *testing.T) {
			c.step.RollbackAwait = gate
			if name == "no event" {
				c.step.RollbackAwait = &runtime.Await[gateState]{Topic: "ops"}
			}
			err := runtime.New[gateState]("G", c.opts...).Register(c.step)
			if !errors.Is(err, c.want) {
				t.Fatalf("Register: %v, want %v", err, c.want)
			}
		})
	}
}
