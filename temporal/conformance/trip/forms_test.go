package trip

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
	"github.com/flowgen/flowgen/temporal/internal/twoforms"
)

// world is the services, handlers and publisher of one run, scripted: per
// endpoint or handler, what each attempt does (the last entry repeats;
// none: it answers). Everything is journaled with its idempotency key as
// it ends, so the journal is the order of the side effects.
type world struct {
	script map[string][]string
	twoforms.Journal
	// longRunning is closed when slowLong's Long starts (its first
	// attempt's handler runs).
	longRunning chan struct{}
	longOnce    sync.Once
	// quoted is closed once the run's history shows the branch Quote
	// completed (watchQuote).
	quoted chan struct{}
	// confirmed is closed once the run's confirmation was delivered, or
	// at once when none will be (noConfirmation): Card.Charge, in Pay,
	// answers only then, so the confirmation is there before the run
	// waits for it.
	confirmed chan struct{}
}

// newWorld is a world playing script.
func newWorld(script map[string][]string) *world {
	return &world{script: script, longRunning: make(chan struct{}), quoted: make(chan struct{}), confirmed: make(chan struct{})}
}

// noConfirmation lets Card.Charge answer without a confirmation
// delivered first.
func (w *world) noConfirmation() { close(w.confirmed) }

// watchQuote closes w.quoted once h's history shows that the branch Quote
// completed, or gives up when ctx ends: Seat.Hold answers after that on
// both forms, so the journal and the history have Quote first, whatever
// the load.
func (w *world) watchQuote(ctx context.Context, h twoforms.Handle[TripState]) {
	twoforms.CloseWhenRecorded(ctx, h, w.quoted, func(e runtime.Event) bool {
		return e.Branch == TripStepQuote && e.Outcome == runtime.OutcomeOK
	})
}

// act journals what attempt of name does and returns its error.
func (w *world) act(ctx context.Context, name string) error {
	attempt := runtime.Attempt(ctx)
	var b string
	if bs := w.script[name]; len(bs) > 0 {
		b = bs[min(attempt, len(bs))-1]
	}
	w.Add(ctx, fmt.Sprintf("%s #%d %s", name, attempt, b))
	switch b {
	case "fail":
		return fmt.Errorf("%s: unavailable", name)
	case "refuse":
		return runtime.Permanent(fmt.Errorf("%s: refused", name))
	}
	return nil
}

// Call is every service of the three flows.
func (w *world) Call(ctx context.Context, service, endpoint string, req, rsp any) error {
	gate := map[string]chan struct{}{"Seat.Hold": w.quoted, "Card.Charge": w.confirmed}[endpoint]
	if gate != nil {
		select {
		case <-gate: // after Quote, after the confirmation, on both forms
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := w.act(ctx, endpoint); err != nil {
		return err
	}
	if out, ok := rsp.(*string); ok {
		*out = endpoint + "-" + runtime.RunID(ctx)
	}
	return nil
}

func (w *world) Publish(ctx context.Context, topic, event string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	w.Add(ctx, fmt.Sprintf("publish %s %s %s", topic, event, b))
	return nil
}

// handlers are Trip's Go steps and rollback.
type handlers struct{ w *world }

func (h handlers) Quote(ctx context.Context, s *TripState) error {
	s.Price = 120
	s.Scratch = "discarded"
	return h.w.act(ctx, "Quote")
}

func (h handlers) Unquote(ctx context.Context, s *TripState) error {
	return h.w.act(ctx, "Unquote")
}

func (h handlers) Gold(ctx context.Context, s *TripState) error   { return h.w.act(ctx, "Gold") }
func (h handlers) Pricey(ctx context.Context, s *TripState) error { return h.w.act(ctx, "Pricey") }
func (h handlers) Rushed(ctx context.Context, s *TripState) error { return h.w.act(ctx, "Rushed") }
func (h handlers) Long(ctx context.Context, s *TripState) error   { return h.w.act(ctx, "Long") }

// slowLong takes a while over Long, and stops when its context ends, as a
// handler should.
type slowLong struct{ quoteless }

func (h slowLong) Long(ctx context.Context, s *TripState) error {
	h.w.longOnce.Do(func() { close(h.w.longRunning) })
	select {
	case <-ctx.Done():
		h.w.Add(ctx, "Long cut: "+context.Cause(ctx).Error())
		return ctx.Err()
	case <-time.After(time.Second):
	}
	return h.w.act(ctx, "Long")
}

// quoteless prices nothing: the choose then reads the state's own Price.
type quoteless struct{ handlers }

func (h quoteless) Quote(ctx context.Context, s *TripState) error {
	return h.w.act(ctx, "Quote")
}

// script is what a case does to a run while it goes: deliver, abort, stop
// a worker. child reads the machine state of the run's child run.
type script func(h twoforms.Handle[TripState], child func(string) string, restart func())

func local(t *testing.T, ctx context.Context, w *world, h TripHandlers, id string, start TripState, drive script) observed {
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	opts := []runtime.Option{runtime.WithSink(sink), runtime.WithSubscriber(bus), runtime.WithPublisher(w)}
	b, err := NewBillingFlow(nil, BillingServicesFromCaller(w), opts...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRefundFlow(nil, RefundServicesFromCaller(w), opts...)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewTripFlow(h, TripServicesFromCaller(w), b, r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(ctx, start, runtime.WithRunID(id))
	if err != nil {
		t.Fatal(err)
	}
	hd := twoforms.Local(run, bus)
	w.watchQuote(ctx, hd)
	drive(hd, func(child string) string {
		st, _ := b.Status(ctx, child)
		return st.Machine
	}, func() {})
	o := twoforms.Observe(t, ctx, hd, w.Lines, func() []runtime.Message { return nil })
	o.Children = twoforms.Children(t, ctx, hd, func(ref runtime.RunRef) ([]runtime.Event, error) { return sink.History(ref.RunID), nil })
	return observed{o, final(t, ctx, hd)}
}

// onTemporal runs the case on a worker of its own queue, through c;
// restart stops that worker and starts another, with its own definitions
// over the same world, as a process that takes over from a stopped one.
func onTemporal(t *testing.T, ctx context.Context, c client.Client, w *world, h TripHandlers, id string, start TripState, drive script) observed {
	var sinks []*runtime.MemorySink // one per worker
	newWorker := func() worker.Worker {
		sink := runtime.NewMemorySink()
		sinks = append(sinks, sink)
		b, err := NewBillingTemporal(nil, BillingServicesFromCaller(w), runtime.WithSink(sink))
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRefundTemporal(nil, RefundServicesFromCaller(w), runtime.WithSink(sink))
		if err != nil {
			t.Fatal(err)
		}
		f, err := NewTripTemporal(h, TripServicesFromCaller(w), b, r, runtime.WithPublisher(w), runtime.WithSink(sink))
		if err != nil {
			t.Fatal(err)
		}
		o := flowtemporal.WorkerOptions(worker.Options{})
		o.WorkflowPanicPolicy = worker.FailWorkflow // a replay that decides otherwise fails the run
		wk := worker.New(c, id, o)
		f.Register(wk)
		if err := wk.Start(); err != nil {
			t.Fatal(err)
		}
		return wk
	}
	wk := newWorker()
	defer func() { wk.Stop() }()
	run, err := StartTrip(ctx, c, start, client.StartWorkflowOptions{ID: id, TaskQueue: id})
	if err != nil {
		t.Fatal(err)
	}
	w.watchQuote(ctx, run)
	drive(run, func(child string) string {
		st, _ := flowtemporal.Attach[Invoice](c, child).Status(ctx)
		return st.Machine
	}, func() {
		wk.Stop()
		wk = newWorker()
	})
	o := twoforms.Observe(t, ctx, run, w.Lines, func() []runtime.Message { return nil })
	o.Children = twoforms.Children(t, ctx, run, func(ref runtime.RunRef) ([]runtime.Event, error) {
		return flowtemporal.Attach[Invoice](c, ref.RunID).History(ctx)
	})
	history, err := run.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sinkSeesOnce(t, id, history, sinks)
	return observed{o, final(t, ctx, run)}
}

// sinkSeesOnce requires the workers' sinks to have had each event of
// history, and none of the events a worker that takes a run over replays:
// an event comes again only from a workflow task that ran and could not
// complete (at least once: docs/temporal.md, The sink), a task's few
// events, where a replay would emit the run's history so far again.
func sinkSeesOnce(t *testing.T, id string, history []runtime.Event, sinks []*runtime.MemorySink) {
	t.Helper()
	seen := map[uint64]bool{}
	again := 0
	for _, s := range sinks {
		for _, e := range s.History(id) {
			if seen[e.Seq] {
				again++
			}
			seen[e.Seq] = true
		}
	}
	for _, e := range history {
		if !seen[e.Seq] {
			t.Errorf("no sink had event %d of run %s (%s>%s)", e.Seq, id, e.From, e.To)
		}
	}
	if again > 2 {
		t.Errorf("the workers' sinks had %d events of run %s again: a replay emitted them", again, id)
	}
}

func waitChild(t *testing.T, ctx context.Context, child func(string) string, id, machine string) {
	t.Helper()
	for child(id) != machine {
		select {
		case <-ctx.Done():
			t.Fatalf("child %s never reached %s", id, machine)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestTripFormsAgree runs trip.flow's generated code in its two forms, each
// case on both at once, Temporal on a real server, and requires the same
// journal (every call, Go step, rollback and publication, in order, with
// its idempotency key), history (the children's too), final state,
// terminal state and error. On Temporal, the cases "worker stopped" stop
// the run's only worker while the run waits and start another, which
// replays the run and finishes it: the same again, and its sink gets no
// event of the replay.
func TestTripFormsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	// The cases run in parallel, and the server makes its default client
	// on first use without a lock (-race saw two cases make it at once):
	// made here, before them, it is only shared, as a client may be.
	tc := ts.GetDefaultClient()
	past, far := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
	// confirm delivers the trip's confirmation before the run can reach
	// Confirm (w.confirmed holds Pay's Card.Charge until then): delivered
	// once the run waited there, it raced Confirm's 1.5 s timeout, which
	// under load (a worker restarted in between) fired first on one form
	// only. Both forms keep an event the run does not await yet (the
	// runtime's bus, Temporal's signal channel), so the run takes it as it
	// enters the wait.
	confirm := func(t *testing.T, ctx context.Context, h twoforms.Handle[TripState], id string, w *world) {
		// One for another trip first: not taken.
		for _, tid := range []string{"other", id} {
			if err := h.Deliver(ctx, "confirmations", "confirmed", json.RawMessage(fmt.Sprintf(`{"trip": {"id": %q}, "ok": true}`, tid))); err != nil {
				t.Error(err)
			}
		}
		close(w.confirmed)
	}
	none := func(*testing.T, context.Context, string, *world) script { return nil }
	cases := []struct {
		name   string
		script map[string][]string
		quote  bool // Quote sets Price to 120
		slow   bool // Long takes a second
		start  TripState
		drive  func(t *testing.T, ctx context.Context, id string, w *world) script
		final  runtime.RunState
		silent bool // no confirmation is delivered (confirm)
	}{
		// The choose's routes: a string, a number (Quote's merged write),
		// a bool, a duration, otherwise (90m is not > 90m).
		{name: "gold", start: TripState{Tier: "gold", DepartAt: past}, final: runtime.StateDone},
		// The flow's retry, outside the block: a branch's retries
		// interleave with the other branch's attempt by timing.
		{name: "pricey", quote: true, start: TripState{DepartAt: past}, final: runtime.StateDone,
			script: map[string][]string{"Pricey": {"fail", "fail", ""}}},
		{name: "rushed", start: TripState{Rush: true, Price: 99.5, DepartAt: past}, final: runtime.StateDone},
		{name: "long", start: TripState{Layover: 2 * time.Hour, DepartAt: past}, final: runtime.StateDone},
		{name: "otherwise", start: TripState{Layover: 90 * time.Minute, DepartAt: past}, final: runtime.StateDone},
		// Hold out of attempts: Quote, completed, rolls back.
		{name: "branch fails", start: TripState{DepartAt: past}, final: runtime.StateCompensated, silent: true,
			script: map[string][]string{"Seat.Hold": {"fail"}}, drive: none},
		// Refund's child, then Hold's rollback, then Quote's: newest first.
		{name: "confirmation times out", start: TripState{DepartAt: past}, final: runtime.StateCompensated, drive: none, silent: true},
		{name: "abort while sleeping", start: TripState{DepartAt: far}, final: runtime.StateAborted, silent: true,
			drive: func(t *testing.T, ctx context.Context, id string, w *world) script {
				return func(h twoforms.Handle[TripState], _ func(string) string, _ func()) {
					twoforms.WaitFor(t, ctx, h, runtime.WaitingState("Settle"))
					if err := h.Abort(ctx); err != nil {
						t.Error(err)
					}
				}
			}},
		{name: "abort during the child", start: TripState{DepartAt: past}, final: runtime.StateAborted, silent: true,
			drive: func(t *testing.T, ctx context.Context, id string, w *world) script {
				return func(h twoforms.Handle[TripState], child func(string) string, _ func()) {
					waitChild(t, ctx, child, id+"@Pay", runtime.WaitingState("Clear"))
					if err := h.Abort(ctx); err != nil {
						t.Error(err)
					}
				}
			}},
		{name: "worker stopped in the child", start: TripState{DepartAt: past}, final: runtime.StateDone,
			drive: func(t *testing.T, ctx context.Context, id string, w *world) script {
				return func(h twoforms.Handle[TripState], child func(string) string, restart func()) {
					confirm(t, ctx, h, id, w) // taken after the restart
					waitChild(t, ctx, child, id+"@Pay", runtime.WaitingState("Clear"))
					restart()
				}
			}},
		// The stopping worker lets the running step end
		// (flowtemporal.WorkerOptions' WorkerStopTimeout), as the
		// runtime's SuspendAll does, not cut it and retry it elsewhere.
		{name: "worker stopped in a step", slow: true, start: TripState{Layover: 2 * time.Hour, DepartAt: past}, final: runtime.StateDone,
			drive: func(t *testing.T, ctx context.Context, id string, w *world) script {
				return func(h twoforms.Handle[TripState], _ func(string) string, restart func()) {
					// In the step: its handler runs. The run's status
					// says Long:running once the step is scheduled; a
					// worker stopped before its poller handed the task
					// over never ran it, and Temporal ran it again only
					// after the heartbeat timeout (Long #2, on a busy
					// machine).
					twoforms.WaitFor(t, ctx, h, "Long:running")
					select {
					case <-w.longRunning:
					case <-ctx.Done():
						t.Fatal("Long's handler never ran")
					}
					restart()
					confirm(t, ctx, h, id, w)
				}
			}},
		// No event comes: Confirm's timeout, a timer of the server's,
		// fires whether a worker runs or not, and the new worker replays
		// the run and rolls it back, as the runtime does. (An event sent
		// after the restart raced that timeout; the run replayed with an
		// event to take is "worker stopped in the child".)
		{name: "worker stopped in the await", start: TripState{DepartAt: past}, final: runtime.StateCompensated, silent: true,
			drive: func(t *testing.T, ctx context.Context, id string, w *world) script {
				return func(h twoforms.Handle[TripState], _ func(string) string, restart func()) {
					twoforms.WaitFor(t, ctx, h, runtime.WaitingState("Confirm"))
					restart()
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id := "trip-" + strings.ReplaceAll(c.name, " ", "-")
			start := c.start
			start.TripID, start.Seat, start.Invoice = id, "12A", Invoice{Amount: 300}
			// drive is the case's script for the side whose world is w.
			drive := func(w *world) script {
				if c.drive == nil {
					return func(h twoforms.Handle[TripState], _ func(string) string, _ func()) { confirm(t, ctx, h, id, w) }
				}
				if d := c.drive(t, ctx, id, w); d != nil {
					return d
				}
				return func(twoforms.Handle[TripState], func(string) string, func()) {}
			}
			hs := func(w *world) TripHandlers {
				if c.quote {
					return handlers{w}
				}
				if c.slow {
					return slowLong{quoteless{handlers{w}}}
				}
				return quoteless{handlers{w}}
			}
			var want, got observed
			var wg sync.WaitGroup
			lw, tw := newWorld(c.script), newWorld(c.script)
			if c.silent {
				lw.noConfirmation()
				tw.noConfirmation()
			}
			wg.Go(func() { want = local(t, ctx, lw, hs(lw), id, start, drive(lw)) })
			wg.Go(func() { got = onTemporal(t, ctx, tc, tw, hs(tw), id, start, drive(tw)) })
			wg.Wait()
			if t.Failed() {
				return
			}
			if want.Final != c.final {
				t.Errorf("the runtime form ended %s, want %s (%s)", want.Final, c.final, want.Err)
			}
			if d := cmp.Diff(want, got, cmp.AllowUnexported(observed{})); d != "" {
				t.Errorf("the Temporal form differs from the runtime form (-runtime +temporal):\n%s", d)
			}
		})
	}
}

// observed is what twoforms observes of a run, and its status query once
// it ended, without the history (compared reduced) and the snapshot (the
// final state).
type observed struct {
	twoforms.Observed[TripState]
	status runtime.Status
}

func final(t *testing.T, ctx context.Context, h twoforms.Handle[TripState]) runtime.Status {
	t.Helper()
	st, err := h.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	st.History, st.Snapshot = nil, nil
	st.Err = twoforms.MaskTimes(st.Err)
	return st
}
