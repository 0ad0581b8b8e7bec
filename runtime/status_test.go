package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// gateSink holds every Emit twice until the test lets it go on: before
// the event is stored (the run has applied every earlier event and is about
// to record the next) and after (the history has an event the run has not
// moved past yet). Between two holds the history cannot change, so the test
// compares Status with the history at instants it knows, never while the
// run is between them.
type gateSink struct {
	mem     *runtime.MemorySink
	held    chan gateHold
	release chan struct{}
}

// gateHold is an Emit held by gateSink: of event e, stored or not yet.
type gateHold struct {
	e      runtime.Event
	stored bool
}

func (g *gateSink) Emit(ctx context.Context, e runtime.Event) error {
	g.held <- gateHold{e: e}
	<-g.release
	if err := g.mem.Emit(ctx, e); err != nil {
		return err
	}
	g.held <- gateHold{e: e, stored: true}
	<-g.release
	return nil
}

func (g *gateSink) LoadHistory(ctx context.Context, runID string) ([]runtime.Event, error) {
	return g.mem.LoadHistory(ctx, runID)
}

// Status equals the Replay of the run's history at every instant, in
// particular while the sink holds an event it has already stored, and just
// before the run records its next event.
func TestStatusEqualsReplayOfHistory(t *testing.T) {
	testStatusEqualsReplay(t, true)
}

// Without a sink that loads histories, Status is folded from the events the
// sink accepted: the Replay of the history without the event the sink
// holds (History itself is not filled in).
func TestStatusEqualsReplayOfAcceptedEvents(t *testing.T) {
	testStatusEqualsReplay(t, false)
}

func testStatusEqualsReplay(t *testing.T, loads bool) {
	gate := &gateSink{mem: runtime.NewMemorySink(), held: make(chan gateHold), release: make(chan struct{})}
	var sink runtime.Sink = gate
	if !loads {
		sink = runtime.SinkFunc(gate.Emit)
	}
	rec := newRecorder()
	f := runtime.New[state]("S", runtime.WithSink(sink))
	mustRegister(t, f,
		okStep(rec, "A", runtime.WithRollback(func(context.Context, *state) error { return nil })),
		runtime.NewStep("B", func(context.Context, *state) (runtime.Outcome, error) { return "", runtime.Permanent(errBoom) }))
	started := make(chan *runtime.Run[state], 1)
	go func() {
		r, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
		if err != nil {
			t.Error(err)
		}
		started <- r
	}()
	var run *runtime.Run[state]
	check := func(when string, holding bool) {
		if run == nil {
			return
		}
		st := run.Status()
		h := gate.mem.History("r")
		if !loads && holding {
			h = h[:len(h)-1] // stored, not accepted yet
		}
		want, err := runtime.Replay(h)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !loads {
			want.History = nil
		}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("%s: Status differs from the Replay of its history (-replay +status):\n%s", when, diff)
		}
	}
	n := 0
	for {
		var done <-chan struct{}
		if run != nil {
			done = run.Done()
		}
		select {
		case h := <-gate.held:
			when := "event " + h.e.From + " -> " + h.e.To
			if h.stored {
				n++
				when += " stored"
			} else {
				when += " about to be stored"
			}
			check(when, h.stored)
			gate.release <- struct{}{}
			if h.stored && h.e.Seq == 1 {
				// The run's next Emit is held before it stores anything:
				// the history is still the one event.
				run = <-started
				check("after Start", false)
			}
		case <-done:
			check("over", false)
			if res, err := run.Wait(context.Background()); res.Final != runtime.StateCompensated || !errors.Is(err, errBoom) {
				t.Fatalf("Wait = %+v, %v", res, err)
			}
			if n != 6 {
				t.Errorf("%d events, want 6", n)
			}
			return
		}
	}
}

// Event.Woke: the events that end a wait, and only those, have no outcome
// and read "woken".
func TestEventWoke(t *testing.T) {
	for _, c := range []struct {
		from, to string
		outcome  runtime.Outcome
		woke     bool
	}{
		{"Pay:waiting", "Pay:running", "", true},          // the event came, a sleep's time
		{"Bill:waiting", "Bill:running", "", true},        // a call's child ended
		{"Undo:rollback", "Undo:rollback", "", true},      // a gated rollback's event came
		{"Pay:waiting", "Late:running", "timeout", false}, // the deadline passed
		{"Pay:waiting", "aborting", "", false},            // aborted while waiting
		{"Ship:running", "Ship:running", "retry", false},  // a retry
		{"Undo:rollback", "Undo:rollback", "retry", false},
		{"pending", "Pay:waiting", "", false},
		{"Reserve:running", "Pay:waiting", "ok", false},
	} {
		e := runtime.Event{From: c.from, To: c.to, Outcome: c.outcome}
		if got := e.Woke(); got != c.woke {
			t.Errorf("%s -> %s [%s]: Woke() = %v", c.from, c.to, c.outcome, got)
		}
	}
}

// Status.Retrying tells the last attempt's error, which the step tries
// again, from the run's own: it is set while a retry is pending, with Err
// that attempt's error, and not once the run fails (Err then its cause),
// at every prefix of a history where a step fails, is retried, and fails
// for good.
func TestStatusRetrying(t *testing.T) {
	rec := newRecorder()
	sink := runtime.NewMemorySink()
	f := runtime.New[state]("retrying", runtime.WithClock(runtime.NewAutoClock(epoch)), runtime.WithSink(sink))
	mustRegister(t, f, failingStep(rec, "A", -1, errBoom, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 2, Initial: time.Millisecond})))
	if _, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r")); !errors.Is(err, errBoom) {
		t.Fatalf("Execute: %v, want boom", err)
	}
	h := sink.History("r")
	retried := false
	for i := range h {
		st, err := runtime.Replay(h[:i+1])
		if err != nil {
			t.Fatal(err)
		}
		e := h[i]
		want := e.Outcome == runtime.OutcomeRetry
		retried = retried || want
		if st.Retrying != want || (want && st.Err != errBoom.Error()) {
			t.Errorf("after event %d (%s -> %s, %s): retrying %v, error %q; want retrying %v", e.Seq, e.From, e.To, e.Outcome, st.Retrying, st.Err, want)
		}
		// In the backoff, the status says when the next attempt starts:
		// the time the retry recorded, past the retry's own.
		if want && (!st.RetryAt.Equal(e.RetryAt) || !st.RetryAt.After(e.Time)) || !want && !st.RetryAt.IsZero() {
			t.Errorf("after event %d (%s -> %s, %s at %v): retry at %v, want %v", e.Seq, e.From, e.To, e.Outcome, e.Time, st.RetryAt, e.RetryAt)
		}
	}
	last, _ := runtime.Replay(h)
	if !retried || last.State != runtime.StateFailed || last.Retrying || last.Err != "step A: boom" || !last.RetryAt.IsZero() {
		t.Errorf("retried %v; the end: %s, retrying %v (at %v), error %q; want failed, not retrying, the cause", retried, last.State, last.Retrying, last.RetryAt, last.Err)
	}
}

// ctxLoader is a sink whose histories load under the caller's context:
// it answers with that context's error, as a store over the network would
// once its caller gave up.
type ctxLoader struct{ *runtime.MemorySink }

func (l *ctxLoader) LoadHistory(ctx context.Context, runID string) ([]runtime.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.MemorySink.LoadHistory(ctx, runID)
}

// Status and State of a finished run read its history under the caller's
// context; they read it under context.Background(), so a caller could not
// end a slow read.
func TestStatusReadsUnderTheCallersContext(t *testing.T) {
	sink := &ctxLoader{runtime.NewMemorySink()}
	f := runtime.New[struct{}]("F", runtime.WithSink(sink))
	if err := f.Register(runtime.NewStep("A", func(context.Context, *struct{}) (runtime.Outcome, error) {
		return runtime.OutcomeOK, nil
	})); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Execute(context.Background(), struct{}{}, runtime.WithRunID("r1")); err != nil {
		t.Fatal(err)
	}
	if st, err := f.Status(context.Background(), "r1"); err != nil || st.State != runtime.StateDone {
		t.Fatalf("Status: %v, %v; want done", st.State, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Status(ctx, "r1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Status under a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := f.State(ctx, "r1"); !errors.Is(err, context.Canceled) {
		t.Errorf("State under a cancelled context: %v, want context.Canceled", err)
	}
}
