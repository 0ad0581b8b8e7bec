package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// probeSub is a Subscriber that records every wait it is given and keeps
// the deliver functions, so a test delivers when it wants.
type probeSub struct {
	mu      sync.Mutex
	waits   []runtime.Wait
	deliver map[string]func(runtime.Delivery) bool // by wait key
	cancels int
	err     error // returned by Subscribe when set
	// now, when set, is offered to every new wait while it subscribes.
	now []byte
}

func newProbeSub() *probeSub { return &probeSub{deliver: map[string]func(runtime.Delivery) bool{}} }

func (p *probeSub) Subscribe(_ context.Context, w runtime.Wait, deliver func(runtime.Delivery) bool) (func(), error) {
	p.mu.Lock()
	p.waits = append(p.waits, w)
	err, now := p.err, p.now
	if err == nil {
		p.deliver[w.Key] = deliver
	}
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if now != nil {
		deliver(runtime.Delivery{Payload: now})
	}
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.cancels++
		delete(p.deliver, w.Key)
	}, nil
}

// send offers payload to the wait with key; false if nobody waits there or
// the wait refused it.
func (p *probeSub) send(key string, payload string) bool {
	return p.sendMsg(key, runtime.Delivery{Payload: []byte(payload)})
}

// sendMsg offers msg to the wait with key, as send.
func (p *probeSub) sendMsg(key string, msg runtime.Delivery) bool {
	p.mu.Lock()
	d := p.deliver[key]
	p.mu.Unlock()
	return d != nil && d(msg)
}

// waitFor polls until a wait with key is subscribed.
func (p *probeSub) waitFor(t *testing.T, key string) runtime.Wait {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		p.mu.Lock()
		_, ok := p.deliver[key]
		var w runtime.Wait
		for _, x := range p.waits {
			if x.Key == key {
				w = x
			}
		}
		p.mu.Unlock()
		if ok {
			return w
		}
	}
	t.Fatalf("nobody waits with key %q", key)
	return runtime.Wait{}
}

type order struct {
	OrderID string `json:"order_id"`
	Paid    struct {
		Amount int `json:"amount"`
	} `json:"paid"`
	Route string `json:"route,omitempty"`
}

func orderFlow(t *testing.T, sub runtime.Subscriber, sink runtime.Sink, steps ...*runtime.Step[order]) (*runtime.Flow[order], *runtime.FakeClock) {
	t.Helper()
	clock := runtime.NewFakeClock(epoch)
	if sink == nil {
		sink = runtime.NewMemorySink()
	}
	f := runtime.New[order]("Orders", runtime.WithSubscriber(sub), runtime.WithClock(clock), runtime.WithSink(sink))
	if err := f.Register(steps...); err != nil {
		t.Fatal(err)
	}
	return f, clock
}

func awaitPaid(timeout time.Duration, opts ...runtime.StepOption[order]) *runtime.Step[order] {
	return runtime.NewAwait("payments", "paid", func(s *order) any { return &s.Paid },
		func(s *order) string { return s.OrderID }, timeout,
		append([]runtime.StepOption[order]{runtime.WithID[order]("Pay")}, opts...)...)
}

func route(to string) *runtime.Step[order] {
	return runtime.NewStep(to, func(ctx context.Context, s *order) (runtime.Outcome, error) {
		s.Route = to
		return "", nil
	})
}

// The Subscriber learns what the run waits for, with an absolute deadline
// (the earlier of the await's timeout and the step's deadline, counted from
// when the step was entered); the run takes only a matching payload.
func TestAwaitWaitDescribesTheWait(t *testing.T) {
	sub := newProbeSub()
	f, _ := orderFlow(t, sub, nil, awaitPaid(time.Hour, runtime.WithDeadline[order](30*time.Minute)))
	run, err := f.Start(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	w := sub.waitFor(t, "r1/Pay")
	want := runtime.Wait{Flow: "Orders", RunID: "r1", Step: "Pay", Key: "r1/Pay", Topic: "payments", Event: "paid",
		Correlated: true, Correlation: "o-1", Deadline: epoch.Add(30 * time.Minute)}
	if diff := cmp.Diff(want, w); diff != "" {
		t.Errorf("Wait (-want +got):\n%s", diff)
	}
	if st := run.Status(); st.State != runtime.StateWaiting || st.Machine != "Pay:waiting" || st.Wait == nil || !st.Wait.Deadline.Equal(want.Deadline) {
		t.Errorf("Status while waiting = %+v", st)
	}
	if sub.send("r1/Pay", `{"correlation_id":"o-2","amount":1}`) {
		t.Error("the run took another order's payment")
	}
	const sender = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	if !sub.sendMsg("r1/Pay", runtime.Delivery{Payload: []byte(`{"correlation_id":"o-1","amount":7}`), Link: sender}) {
		t.Fatal("the run refused its own payment")
	}
	if sub.send("r1/Pay", `{"correlation_id":"o-1","amount":8}`) {
		t.Error("the run took a second payment")
	}
	res, err := run.Wait(context.Background())
	if err != nil || res.State.Paid.Amount != 7 {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	h, _ := f.History(context.Background(), "r1")
	var got []string
	for _, e := range h {
		got = append(got, e.From+" -> "+e.To)
	}
	if diff := cmp.Diff([]string{"pending -> Pay:waiting", "Pay:waiting -> Pay:running", "Pay:running -> done"}, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if h[0].Wait == nil || h[0].Wait.Correlation != "o-1" || h[1].Payload == nil {
		t.Errorf("the wait or the payload is not recorded: %+v / %s", h[0].Wait, h[1].Payload)
	}
	// The delivery's sender is recorded with it, and nowhere else.
	if h[0].Link != "" || h[1].Link != sender || h[2].Link != "" {
		t.Errorf("links %q %q %q, want the sender on the wake-up only", h[0].Link, h[1].Link, h[2].Link)
	}
	if err := f.CheckHistory(h); err != nil {
		t.Error(err)
	}
}

// `correlate X on path`: the run compares the payload member the flow
// names, not correlation_id.
func TestAwaitCorrelationField(t *testing.T) {
	sub := newProbeSub()
	f, _ := orderFlow(t, sub, nil, awaitPaid(time.Hour, runtime.WithCorrelationField[order]("order.id")))
	run, err := f.Start(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	if w := sub.waitFor(t, "r1/Pay"); w.Field != "order.id" {
		t.Errorf("Wait.Field = %q", w.Field)
	}
	if sub.send("r1/Pay", `{"correlation_id":"o-1","amount":1}`) {
		t.Error("matched correlation_id instead of order.id")
	}
	if !sub.send("r1/Pay", `{"order":{"id":"o-1"},"amount":2}`) {
		t.Fatal("refused a payment carrying order.id")
	}
	if res, err := run.Wait(context.Background()); err != nil || res.State.Paid.Amount != 2 {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
}

// A payload offered while the run subscribes (it came first) is taken, and
// Execute returns once the run, woken on another goroutine, ends.
func TestAwaitEventThatCameFirst(t *testing.T) {
	sub := newProbeSub()
	sub.now = []byte(`{"correlation_id":"o-1","amount":5}`)
	f, _ := orderFlow(t, sub, nil, awaitPaid(time.Hour))
	res, err := f.Execute(context.Background(), order{OrderID: "o-1"})
	if err != nil || res.State.Paid.Amount != 5 {
		t.Fatalf("Execute = %+v, %v", res, err)
	}
}

// The deadline passes: the outcome "timeout" is routed, the subscription
// is cancelled.
func TestAwaitTimeoutRouted(t *testing.T) {
	sub := newProbeSub()
	f, clock := orderFlow(t, sub, nil,
		awaitPaid(time.Hour, runtime.WithNext[order](runtime.OutcomeTimeout, "Expire")),
		route("Ship"), route("Expire"))
	run, err := f.Start(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "r1/Pay")
	clock.Advance(59 * time.Minute)
	if st := run.Status(); st.State != runtime.StateWaiting {
		t.Fatalf("timed out early: %+v", st)
	}
	clock.Advance(time.Minute)
	res, err := run.Wait(context.Background())
	if err != nil || res.State.Route != "Expire" {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	if sub.send("r1/Pay", `{"correlation_id":"o-1"}`) || sub.cancels != 1 {
		t.Errorf("subscription not cancelled after the timeout (cancels %d)", sub.cancels)
	}
}

// The await's deadline is fixed when the step is entered: a run waiting 47h
// of a 48h timeout and resumed by a new process times out an hour later,
// not 48h after the resume.
func TestAwaitDeadlineSurvivesResume(t *testing.T) {
	sink := runtime.NewMemorySink()
	sub := newProbeSub()
	f, clock := orderFlow(t, sub, sink, awaitPaid(48*time.Hour, runtime.WithNext[order](runtime.OutcomeTimeout, "Expire")), route("Ship"), route("Expire"))
	if _, err := f.Start(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1")); err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "r1/Pay")
	clock.Advance(47 * time.Hour)

	// A new process: another flow value on the same history, a clock at the
	// same time. The first process's run is forgotten with it.
	sub2 := newProbeSub()
	clock2 := runtime.NewFakeClock(clock.Now())
	f2 := runtime.New[order]("Orders", runtime.WithSubscriber(sub2), runtime.WithClock(clock2), runtime.WithSink(sink))
	if err := f2.Register(awaitPaid(48*time.Hour, runtime.WithNext[order](runtime.OutcomeTimeout, "Expire")), route("Ship"), route("Expire")); err != nil {
		t.Fatal(err)
	}
	run, err := f2.Resume(context.Background(), sink.History("r1"))
	if err != nil {
		t.Fatal(err)
	}
	if w := sub2.waitFor(t, "r1/Pay"); !w.Deadline.Equal(epoch.Add(48 * time.Hour)) {
		t.Errorf("resumed wait has deadline %v, want %v", w.Deadline, epoch.Add(48*time.Hour))
	}
	clock2.BlockUntil(1)
	clock2.Advance(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := run.Wait(ctx)
	if err != nil || res.State.Route != "Expire" {
		t.Fatalf("at 48h of its own time: Wait = %+v, %v", res, err)
	}
	h := sink.History("r1")
	if last := h[len(h)-2]; last.From != "Pay:waiting" || last.Outcome != runtime.OutcomeTimeout || !last.Time.Equal(epoch.Add(48*time.Hour)) {
		t.Errorf("timeout event %+v", last)
	}
}

// recordedSub is a durable Subscriber that had received an event before
// the run (re)subscribed, at the time it recorded: it hands it over while
// Subscribe runs, and remembers whether the run took it.
type recordedSub struct {
	msg  runtime.Delivery
	took chan bool
}

func (s *recordedSub) Subscribe(_ context.Context, _ runtime.Wait, deliver func(runtime.Delivery) bool) (func(), error) {
	s.took <- deliver(s.msg)
	return func() {}, nil
}

// handingSub is a Subscriber that is handing over an event it received
// in time when the wait's deadline passes (a durable claim in flight): its
// cancel delivers it before it returns.
type handingSub struct {
	msg  runtime.Delivery
	took chan bool
}

func (s *handingSub) Subscribe(_ context.Context, _ runtime.Wait, deliver func(runtime.Delivery) bool) (func(), error) {
	return func() { s.took <- deliver(s.msg) }, nil
}

// At an await's deadline the run cancels its subscription before it times
// out, so that an event received in time and being handed over meanwhile
// wins (Subscriber); one received at the deadline is refused, and the run
// times out. Before, the timer ended the wait first and the delivery found
// it gone.
func TestAwaitDeadlineLetsAnEventInFlightIn(t *testing.T) {
	deadline := epoch.Add(time.Hour)
	for _, tc := range []struct {
		received time.Time
		want     string
	}{
		{deadline.Add(-time.Second), "Ship"},
		{deadline, "Expire"},
	} {
		sub := &handingSub{msg: runtime.Delivery{Payload: []byte(`{"correlation_id":"o-1","amount":5}`), Received: tc.received}, took: make(chan bool, 2)}
		ship := route("Ship")
		ship.Next = map[runtime.Outcome]string{runtime.OutcomeOK: runtime.Done}
		f, clock := orderFlow(t, sub, nil, awaitPaid(time.Hour, runtime.WithNext[order](runtime.OutcomeTimeout, "Expire")), ship, route("Expire"))
		run, err := f.Start(context.Background(), order{OrderID: "o-1"})
		if err != nil {
			t.Fatal(err)
		}
		clock.BlockUntil(1)
		clock.Advance(time.Hour)
		res, err := run.Wait(context.Background())
		if err != nil || res.State.Route != tc.want {
			t.Errorf("received %v: went to %q (%v), want %s", tc.received, res.State.Route, err, tc.want)
		}
		if took := <-sub.took; took != (tc.want == "Ship") || len(sub.took) != 0 {
			t.Errorf("received %v: the run took the event: %v (cancelled %d more times)", tc.received, took, len(sub.took))
		}
	}
}

// dueFirstClock is a FakeClock whose timers already due fire before
// AfterFunc returns (on their own goroutine, as ever): the scheduling in
// which a resumed run's expired timer beats whatever comes after it.
type dueFirstClock struct{ *runtime.FakeClock }

func (c dueFirstClock) AfterFunc(d time.Duration, fn func()) func() bool {
	if d > 0 {
		return c.FakeClock.AfterFunc(d, fn)
	}
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	<-done
	return func() bool { return false }
}

// An event the Subscriber received before the await's deadline wakes the
// run ok when the run is resumed only after the deadline (its process was
// down over it): the recorded times decide, as a sleep's do, not whether
// the expired timer or the delivery reaches the run first. An event
// received at the deadline or after it is refused (it stays the
// Subscriber's) and the deadline ends the wait, though the run had not
// recorded its timeout when the event came. Before, the resumed run armed
// its timer, already due, before it subscribed, and took whatever the
// Subscriber handed over when the delivery won.
func TestAwaitEventReceivedBeforeItsDeadlineResumedLate(t *testing.T) {
	deadline := epoch.Add(time.Hour)
	for _, tc := range []struct {
		name     string
		received time.Time
		want     string // the step the run goes on to
	}{
		{"received before the deadline", deadline.Add(-time.Minute), "Ship"},
		{"received at the deadline", deadline, "Expire"},
		{"received after the deadline", deadline.Add(time.Minute), "Expire"},
		// A Subscriber that does not know when it received the event
		// (MemoryBus, a broker of the user's) hands it over as the run
		// hears of it: at 2h, past the 1h deadline. Before, a zero
		// Received was always in time, and a run resumed at 49h of a
		// 48h await took an event that came at 49h.
		{"received unknown, heard of after the deadline", time.Time{}, "Expire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := func() []*runtime.Step[order] {
				ship := route("Ship")
				ship.Next = map[runtime.Outcome]string{runtime.OutcomeOK: runtime.Done}
				return []*runtime.Step[order]{awaitPaid(time.Hour, runtime.WithNext[order](runtime.OutcomeTimeout, "Expire")), ship, route("Expire")}
			}
			sink := runtime.NewMemorySink()
			sub := newProbeSub()
			f, _ := orderFlow(t, sub, sink, steps()...)
			if _, err := f.Start(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1")); err != nil {
				t.Fatal(err)
			}
			sub.waitFor(t, "r1/Pay")

			// A new process, after the deadline.
			rec := &recordedSub{msg: runtime.Delivery{Payload: []byte(`{"correlation_id":"o-1","amount":5}`), Received: tc.received}, took: make(chan bool, 1)}
			f2 := runtime.New[order]("Orders", runtime.WithSubscriber(rec), runtime.WithClock(dueFirstClock{runtime.NewFakeClock(epoch.Add(2 * time.Hour))}), runtime.WithSink(sink))
			if err := f2.Register(steps()...); err != nil {
				t.Fatal(err)
			}
			run, err := f2.Resume(context.Background(), sink.History("r1"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := run.Wait(context.Background())
			if err != nil || res.State.Route != tc.want {
				t.Fatalf("went to %q (%v), want %s:\n%s", res.State.Route, err, tc.want, strings.Join(transitions(sink.History("r1")), "\n"))
			}
			if took := <-rec.took; took != (tc.want == "Ship") {
				t.Errorf("the run took the event: %v", took)
			}
		})
	}
}

// Abort while waiting: the wait ends without a goroutine having waited,
// completed steps roll back, the run ends aborted.
func TestAbortWhileWaiting(t *testing.T) {
	sub, sink := newProbeSub(), runtime.NewMemorySink()
	var undone bool
	f, _ := orderFlow(t, sub, sink,
		runtime.NewStep("Reserve", func(ctx context.Context, s *order) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(ctx context.Context, s *order) error { undone = true; return nil })),
		awaitPaid(time.Hour))
	run, err := f.Start(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "r1/Pay")
	if err := run.Abort(); err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(context.Background())
	if res.Final != runtime.StateAborted || !errors.Is(err, runtime.ErrAborted) || !undone {
		t.Fatalf("Wait = %+v, %v (rolled back %v)", res, err, undone)
	}
	if sub.send("r1/Pay", `{"correlation_id":"o-1"}`) {
		t.Error("an aborted run took a payment")
	}
	// The abort cut no step short: Pay waited, it ran nothing.
	abort := eventsTo(sink.History("r1"), runtime.MachineAborting) // the abort, then Reserve's rollback returning
	if len(abort) == 0 || abort[0].From != "Pay:waiting" || abort[0].Interrupted() {
		t.Errorf("the abort %+v: want one from Pay:waiting, interrupting no step", abort)
	}
}

// Cancelling Start's context while the run waits aborts it like Abort, as
// Start says: the wait holds no goroutine that would see the context end, so
// the parked run watches it. Before, the run went on waiting.
func TestCancelStartWhileWaiting(t *testing.T) {
	sub, sink := newProbeSub(), runtime.NewMemorySink()
	var undone bool
	f, _ := orderFlow(t, sub, sink,
		runtime.NewStep("Reserve", func(ctx context.Context, s *order) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(ctx context.Context, s *order) error { undone = true; return nil })),
		awaitPaid(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run, err := f.Start(ctx, order{OrderID: "o-1"}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "r1/Pay")
	cancel()
	res, err := run.Wait(context.Background())
	if res.Final != runtime.StateAborted || !errors.Is(err, runtime.ErrAborted) || !errors.Is(err, context.Canceled) || !undone {
		t.Fatalf("Wait = %+v, %v (rolled back %v)", res, err, undone)
	}
	abort := eventsTo(sink.History("r1"), runtime.MachineAborting)
	if len(abort) == 0 || abort[0].From != "Pay:waiting" {
		t.Errorf("the abort %+v: want one from Pay:waiting", abort)
	}
}

// A run whose wait ended stops watching Start's context for it: cancelling
// the context after a sleep woke aborts the run only through the step
// running then, once.
func TestCancelStartAfterWaitStopsWatching(t *testing.T) {
	sink := runtime.NewMemorySink()
	inB := make(chan struct{})
	f, clock := orderFlow(t, newProbeSub(), sink,
		runtime.NewSleep[order]("Remind", time.Hour, nil),
		runtime.NewStep("B", func(ctx context.Context, s *order) (runtime.Outcome, error) {
			close(inB)
			<-ctx.Done()
			return "", ctx.Err()
		}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run, err := f.Start(ctx, order{}, runtime.WithRunID("s1"))
	if err != nil {
		t.Fatal(err)
	}
	clock.BlockUntil(1)
	clock.Advance(time.Hour)
	<-inB
	cancel()
	res, err := run.Wait(context.Background())
	if res.Final != runtime.StateAborted || !errors.Is(err, runtime.ErrAborted) {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	if abort := eventsTo(sink.History("s1"), runtime.MachineAborting); len(abort) != 1 || abort[0].From != "B:running" {
		t.Errorf("aborts %+v: want one, from B:running", abort)
	}
}

// A Subscriber that fails ends the wait with the outcome "error".
func TestAwaitSubscriberError(t *testing.T) {
	sub := newProbeSub()
	sub.err = fmt.Errorf("broker down")
	f, _ := orderFlow(t, sub, nil, awaitPaid(time.Hour, runtime.WithNext[order](runtime.OutcomeError, "Manual")), route("Ship"), route("Manual"))
	res, err := f.Execute(context.Background(), order{OrderID: "o-1"})
	if err != nil || res.State.Route != "Manual" {
		t.Fatalf("Execute = %+v, %v", res, err)
	}
}

// Waiting runs hold no goroutine: 300 runs parked on an await add none,
// and each completes once its payment comes.
func TestWaitingRunsHoldNoGoroutine(t *testing.T) {
	const n = 300
	bus := runtime.NewMemoryBus()
	f, _ := orderFlow(t, bus, nil, awaitPaid(time.Hour))
	before := goruntime.NumGoroutine()
	runs := make([]*runtime.Run[order], n)
	for i := range runs {
		r, err := f.Start(context.Background(), order{OrderID: fmt.Sprint("o-", i)})
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = r
	}
	for _, r := range runs {
		for r.Status().State != runtime.StateWaiting {
			time.Sleep(time.Millisecond)
		}
	}
	// A run reports waiting as soon as the event is recorded; its goroutine
	// then registers the wait and ends. Give the last ones time to.
	extra := goruntime.NumGoroutine() - before
	for deadline := time.Now().Add(5 * time.Second); extra > 5 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		extra = goruntime.NumGoroutine() - before
	}
	if extra > 5 {
		t.Errorf("%d waiting runs hold %d goroutines", n, extra)
	}
	for i := range runs {
		payload, _ := json.Marshal(map[string]any{"correlation_id": fmt.Sprint("o-", i), "amount": i})
		if err := bus.Publish(context.Background(), "payments", "paid", json.RawMessage(payload)); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range runs {
		res, err := r.Wait(context.Background())
		if err != nil || res.State.Paid.Amount != i {
			t.Fatalf("run %d: %+v, %v", i, res, err)
		}
	}
}

// NewEvent: the wrapped step runs with the payload; a run that crashed
// after the wake-up runs it again with the same payload, from its history.
func TestEventStepPayloadSurvivesResume(t *testing.T) {
	sink := runtime.NewMemorySink()
	sub := newProbeSub()
	var seen []string
	approve := func(crash bool) *runtime.Step[order] {
		return runtime.NewEvent("ops", "approved", runtime.NewStep("Approve",
			func(ctx context.Context, s *order) (runtime.Outcome, error) {
				seen = append(seen, string(runtime.EventPayload(ctx)))
				if crash {
					return "", runtime.Permanent(errBoom)
				}
				return "", nil
			}))
	}
	// The first process records the wait and the wake-up (with the
	// payload); its sink then fails, as a crash would stop it, so its
	// history ends with the step running.
	f, _ := orderFlow(t, sub, runtime.SinkFunc(func(ctx context.Context, e runtime.Event) error {
		if e.Seq >= 3 {
			return errors.New("disk gone")
		}
		return sink.Emit(ctx, e)
	}), approve(true))
	run, err := f.Start(context.Background(), order{}, runtime.WithRunID("r3"))
	if err != nil {
		t.Fatal(err)
	}
	w := sub.waitFor(t, "r3/Approve")
	if w.Topic != "ops" || w.Event != "approved" || w.Correlated || !w.Deadline.IsZero() {
		t.Errorf("wait %+v", w)
	}
	if !sub.send("r3/Approve", `{"by":"ann"}`) {
		t.Fatal("delivery refused")
	}
	if res, _ := run.Wait(context.Background()); !errors.Is(res.Err, runtime.ErrSink) {
		t.Fatalf("first process: %+v", res)
	}
	f2, _ := orderFlow(t, newProbeSub(), sink, approve(false))
	r2, err := f2.Resume(context.Background(), sink.History("r3"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r2.Wait(context.Background()); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("resumed: %+v, %v", res, err)
	}
	if diff := cmp.Diff([]string{`{"by":"ann"}`, `{"by":"ann"}`}, seen); diff != "" {
		t.Errorf("payloads seen (-want +got):\n%s", diff)
	}
}

// Sleep: the run wakes at the recorded time, after a resume too.
func TestSleepSurvivesResume(t *testing.T) {
	sink := runtime.NewMemorySink()
	steps := func() []*runtime.Step[order] {
		return []*runtime.Step[order]{runtime.NewSleep[order]("Remind", 336*time.Hour, nil), route("Notify")}
	}
	f, clock := orderFlow(t, newProbeSub(), sink, steps()...)
	if _, err := f.Start(context.Background(), order{}, runtime.WithRunID("s1")); err != nil {
		t.Fatal(err)
	}
	clock.BlockUntil(1)
	clock.Advance(300 * time.Hour)
	clock2 := runtime.NewFakeClock(clock.Now())
	f2 := runtime.New[order]("Orders", runtime.WithClock(clock2), runtime.WithSink(sink))
	if err := f2.Register(steps()...); err != nil {
		t.Fatal(err)
	}
	run, err := f2.Resume(context.Background(), sink.History("s1"))
	if err != nil {
		t.Fatal(err)
	}
	clock2.BlockUntil(1)
	clock2.Advance(35 * time.Hour)
	if st := run.Status(); st.State != runtime.StateWaiting {
		t.Fatalf("woke early: %+v", st)
	}
	clock2.Advance(time.Hour)
	if res, err := run.Wait(context.Background()); err != nil || res.State.Route != "Notify" {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	h := sink.History("s1")
	if w := h[0].Wait; w == nil || !w.Until.Equal(epoch.Add(336*time.Hour)) {
		t.Errorf("recorded wait %+v", w)
	}
	if wake := h[1]; wake.To != "Remind:running" || !wake.Time.Equal(epoch.Add(336*time.Hour)) {
		t.Errorf("wake-up event %+v", wake)
	}
}

// Sleep until a time: one in the past wakes the run at once; the zero time
// (a field never set) ends the step with the outcome error, routed by Next,
// also when the run is resumed from the waiting history. Before, the run
// waited forever: the zero Until meant no timer at all.
func TestSleepUntilPastAndZero(t *testing.T) {
	var at time.Time
	sink := runtime.NewMemorySink()
	steps := func() []*runtime.Step[order] {
		return []*runtime.Step[order]{
			runtime.NewSleepUntil("Remind", func(*order) time.Time { return at }, nil,
				runtime.WithNext[order](runtime.OutcomeError, "Unset")),
			route("Notify"), route("Unset")}
	}
	f, _ := orderFlow(t, newProbeSub(), sink, steps()...)

	at = epoch.Add(-time.Hour)
	res, err := f.Execute(context.Background(), order{})
	if err != nil || res.Final != runtime.StateDone || res.State.Route != "Unset" {
		t.Fatalf("past: %+v, %v", res, err)
	}
	if h := sink.History(res.RunID); h[0].Wait == nil || !h[0].Wait.Until.Equal(at) || h[1].To != "Remind:running" {
		t.Errorf("past: history %+v", h)
	}

	at = time.Time{}
	res, err = f.Execute(context.Background(), order{}, runtime.WithRunID("z1"))
	if err != nil || res.Final != runtime.StateDone || res.State.Route != "Unset" {
		t.Fatalf("zero: %+v, %v", res, err)
	}
	h := sink.History("z1")
	if len(h) < 2 || h[1].From != "Remind:waiting" || h[1].To != "Unset:running" || h[1].Outcome != runtime.OutcomeError ||
		!strings.Contains(h[1].Error, `step "Remind" sleeps until the zero time`) {
		t.Fatalf("zero: history %+v", h)
	}

	// Resumed from the history that ends waiting: the same error.
	sink2 := runtime.NewMemorySink()
	if err := sink2.Emit(context.Background(), h[0]); err != nil {
		t.Fatal(err)
	}
	f2, _ := orderFlow(t, newProbeSub(), sink2, steps()...)
	run, err := f2.Resume(context.Background(), sink2.History("z1"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := run.Wait(context.Background()); err != nil || res.State.Route != "Unset" {
		t.Fatalf("resumed: %+v, %v", res, err)
	}
}

// A sleep whose wake-up time comes before its step's deadline ends ok,
// even when the run sees it only after the deadline too: a process that
// was down over both, and resumes the run, or a clock that jumps. The
// deadline bounds the step (docs/language.md: "if it passes before the
// wake-up time, the step ends with the outcome timeout"), and the
// recorded times say it did not; when they are one instant, the deadline
// wins, as flowgen check's sleep-deadline warning says. Before, the run
// woke, then failed the step it had nothing left to do in, "step deadline
// passed", and took its on timeout line.
func TestSleepWokenLateBeforeItsDeadline(t *testing.T) {
	for _, tc := range []struct {
		name  string
		until time.Duration // from when the step is entered; its deadline is 5h
		want  string        // the step the run goes on to
	}{
		{"wake-up before the deadline", 4 * time.Hour, "Notify"},
		{"wake-up at the deadline", 5 * time.Hour, "GaveUp"},
		{"wake-up after the deadline", 6 * time.Hour, "GaveUp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := func() []*runtime.Step[order] {
				notify := route("Notify")
				notify.Next = map[runtime.Outcome]string{runtime.OutcomeOK: runtime.Done}
				return []*runtime.Step[order]{
					runtime.NewSleepUntil("FollowUp", func(*order) time.Time { return epoch.Add(tc.until) }, nil,
						runtime.WithDeadline[order](5*time.Hour),
						runtime.WithNext[order](runtime.OutcomeTimeout, "GaveUp")),
					notify,
					route("GaveUp"),
				}
			}
			// The clock jumps past both times while the run waits.
			sink := runtime.NewMemorySink()
			f, clock := orderFlow(t, newProbeSub(), sink, steps()...)
			run, err := f.Start(context.Background(), order{}, runtime.WithRunID("late"))
			if err != nil {
				t.Fatal(err)
			}
			clock.BlockUntil(1)
			clock.Advance(7 * time.Hour)
			res, err := run.Wait(context.Background())
			if err != nil || res.State.Route != tc.want {
				t.Errorf("clock jump: went to %q (%v), want %s:\n%s", res.State.Route, err, tc.want, strings.Join(transitions(sink.History("late")), "\n"))
			}

			// The process is down over both times; the next one resumes
			// the run from its history, which ends in the wait.
			sink2 := runtime.NewMemorySink()
			f2, _ := orderFlow(t, newProbeSub(), sink2, steps()...)
			if _, err := f2.Start(context.Background(), order{}, runtime.WithRunID("down")); err != nil {
				t.Fatal(err)
			}
			sink3 := runtime.NewMemorySink()
			for _, e := range sink2.History("down")[:1] {
				if err := sink3.Emit(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			f3 := runtime.New[order]("Orders", runtime.WithClock(runtime.NewFakeClock(epoch.Add(7*time.Hour))), runtime.WithSink(sink3))
			if err := f3.Register(steps()...); err != nil {
				t.Fatal(err)
			}
			run, err = f3.Resume(context.Background(), sink3.History("down"))
			if err != nil {
				t.Fatal(err)
			}
			res, err = run.Wait(context.Background())
			if err != nil || res.State.Route != tc.want {
				t.Errorf("resumed after the downtime: went to %q (%v), want %s:\n%s", res.State.Route, err, tc.want, strings.Join(transitions(sink3.History("down")), "\n"))
			}
		})
	}
}

// A step that only waits (no Exec: a sleep, an await that keeps no
// payload) still publishes after it succeeds. Before, attempt1 returned ok
// for a nil Exec before the publications ran, and they were dropped.
func TestWaitOnlyStepPublishes(t *testing.T) {
	bus := runtime.NewMemoryBus()
	f := runtime.New[order]("Orders", runtime.WithSubscriber(bus), runtime.WithPublisher(bus), runtime.WithClock(runtime.NewAutoClock(epoch)))
	err := f.Register(
		runtime.NewSleep[order]("Pause", time.Nanosecond, nil, runtime.WithPublish[order]("mail", "paused", nil)),
		runtime.NewAwait[order]("payments", "paid", nil, nil, 0, runtime.WithID[order]("Paid"),
			runtime.WithPublish[order]("mail", "thanks", func(s *order) any { return s.OrderID })))
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(context.Background(), "payments", "paid", map[string]int{"amount": 3}); err != nil {
		t.Fatal(err)
	}
	if res, err := f.Execute(context.Background(), order{OrderID: "o-1"}); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("Execute = %+v, %v", res, err)
	}
	var got []string
	for _, m := range bus.Published() {
		got = append(got, m.Topic+" "+m.Event+" "+string(m.Payload))
	}
	if diff := cmp.Diff([]string{`payments paid {"amount":3}`, "mail paused null", `mail thanks "o-1"`}, got); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
}

// A flow that awaits, calls or publishes without the Subscriber, Caller or
// Publisher it needs is refused when defined, naming the steps.
func TestRegisterNeedsItsParts(t *testing.T) {
	f := runtime.New[order]("Orders")
	err := f.Register(awaitPaid(time.Hour),
		runtime.NewRPC[order]("cards", "Card.Charge", nil, runtime.WithID[order]("Charge")),
		runtime.NewRPC[order]("cards", "Card.Hold", nil, runtime.WithID[order]("Hold")),
		runtime.NewStep("Notify", func(ctx context.Context, s *order) (runtime.Outcome, error) { return "", nil },
			runtime.WithPublish[order]("mail", "sent", nil)),
		runtime.NewStep("Undo", func(ctx context.Context, s *order) (runtime.Outcome, error) { return "", nil },
			runtime.WithRPCRollback[order]("cards", "Card.Refund", nil, nil)))
	if !errors.Is(err, runtime.ErrNotConfigured) {
		t.Fatalf("Register = %v, want ErrNotConfigured", err)
	}
	for _, want := range []string{
		`steps Charge, Hold, Undo need a Caller (WithCaller)`,
		`step Notify needs a Publisher (WithPublisher)`,
		`step Pay needs a Subscriber (WithSubscriber)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
