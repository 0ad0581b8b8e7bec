package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingSink is a MemorySink that keeps abort requests (AbortRecorder),
// or refuses them with refuse.
type recordingSink struct {
	*MemorySink
	mu        sync.Mutex
	requested map[string]bool
	refuse    error
}

func (s *recordingSink) RequestAbort(_ context.Context, runID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse != nil {
		return s.refuse
	}
	s.requested[runID] = true
	return nil
}

func (s *recordingSink) AbortRequested(runID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requested[runID]
}

// Abort records the request with a sink that keeps them before the run is
// told; a sink that fails to record it fails Abort, and the run goes on as
// if Abort had not been called (an error changes nothing). Resume of a run
// whose request is pending resumes it aborted.
func TestAbortRecordedFirst(t *testing.T) {
	type st struct{}
	for _, refuse := range []error{nil, errors.New("disk full")} {
		sink := &recordingSink{MemorySink: NewMemorySink(), requested: map[string]bool{}, refuse: refuse}
		f := New[st]("recorded", WithSink(sink))
		entered, release := make(chan struct{}), make(chan struct{})
		if err := f.Register(
			NewStep("A", func(context.Context, *st) (Outcome, error) { return "", nil },
				WithRollback(func(context.Context, *st) error { return nil })),
			NewStep("B", func(ctx context.Context, _ *st) (Outcome, error) {
				close(entered)
				<-release // ignores its context
				return "", nil
			}),
		); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := f.Start(ctx, st{}, WithRunID("r"))
		if err != nil {
			t.Fatal(err)
		}
		<-entered
		err = r.Abort()
		close(release)
		res, _ := r.Wait(ctx)
		if refuse != nil {
			if !errors.Is(err, refuse) {
				t.Errorf("Abort with a sink that refuses the request: %v, want it to wrap %v", err, refuse)
			}
			if res.Final != StateDone {
				t.Errorf("refused abort: the run ended %s, want done", res.Final)
			}
			cancel()
			continue
		}
		if err != nil || !sink.AbortRequested("r") {
			t.Fatalf("Abort: %v, request recorded: %v", err, sink.AbortRequested("r"))
		}
		if res.Final != StateAborted {
			t.Fatalf("the run ended %s, want aborted", res.Final)
		}

		// The history as a crash leaves it before B returned: the run
		// resumes aborted, B not run again, A undone.
		h := sink.History("r")
		cut := 0
		for i, e := range h {
			if e.To == RunningState("B") {
				cut = i + 1
			}
		}
		sink2 := &recordingSink{MemorySink: NewMemorySink(), requested: map[string]bool{"r": true}}
		for _, e := range h[:cut] {
			if err := sink2.Emit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		f2 := New[st]("recorded", WithSink(sink2))
		if err := f2.Register(
			NewStep("A", func(context.Context, *st) (Outcome, error) { return "", nil },
				WithRollback(func(context.Context, *st) error { return nil })),
			NewStep("B", func(context.Context, *st) (Outcome, error) {
				t.Error("B ran again after the abort was requested")
				return "", nil
			}),
		); err != nil {
			t.Fatal(err)
		}
		r2, err := f2.Resume(ctx, h[:cut])
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := r2.Wait(ctx); res.Final != StateAborted || !errors.Is(res.Err, ErrAborted) {
			t.Errorf("resumed with its abort requested, the run ended %s (%v), want aborted", res.Final, res.Err)
		}
		cancel()
	}
}

// A fan-out keeps abort requests in the sink it loads histories from, when
// that sink keeps them; one whose loader does not is no AbortRecorder.
func TestFanOutKeepsAbortRequests(t *testing.T) {
	rec := &recordingSink{MemorySink: NewMemorySink(), requested: map[string]bool{}}
	if _, ok := FanOut(NewJSONSink(nil), rec).(AbortRecorder); !ok {
		t.Error("a fan-out over a sink that keeps abort requests does not keep them")
	}
	if _, ok := FanOut(NewMemorySink(), rec).(AbortRecorder); ok {
		t.Error("a fan-out whose loader keeps no abort requests claims to")
	}
}

// Cancelling the Start context of a waiting run records the abort with a
// sink that keeps abort requests, as Abort does, before the run aborts; a
// sink that fails to record it is logged, and the run is aborted all the
// same (docs/runtime.md, "Abort").
func TestCancelStartWhileWaitingRecordsTheAbort(t *testing.T) {
	type st struct{}
	for _, refuse := range []error{nil, errors.New("disk full")} {
		sink := &recordingSink{MemorySink: NewMemorySink(), requested: map[string]bool{}, refuse: refuse}
		var logged strings.Builder
		clock := NewFakeClock(time.Unix(0, 0))
		f := New[st]("cancelled", WithSink(sink), WithClock(clock), WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
		r, cancel := startCancellable(t, f,
			NewStep("A", func(context.Context, *st) (Outcome, error) { return "", nil },
				WithRollback(func(context.Context, *st) error { return nil })),
			NewSleep[st]("Nap", time.Hour, nil))
		clock.BlockUntil(1) // parked in Nap
		cancel()
		res, _ := r.Wait(context.Background())
		if res.Final != StateAborted || !errors.Is(res.Err, ErrAborted) {
			t.Errorf("refuse %v: the run ended %s (%v), want aborted", refuse, res.Final, res.Err)
		}
		if refuse == nil && !sink.AbortRequested("r") {
			t.Error("the cancelled context's abort was not recorded with the sink")
		}
		if refuse != nil && !strings.Contains(logged.String(), "abort not recorded") {
			t.Errorf("a sink that refused the abort request was not logged: %q", logged.String())
		}
	}
}

// Cancelling the Start context of a run whose step is in flight records
// the abort with a sink that keeps abort requests before the step
// returns, as Abort does: the run records "-> aborting" only once the step
// returns, and a crash before then would resume the run as if never
// aborted, running the step again and going on. Only a waiting run's
// cancelled context was recorded.
func TestCancelStartWhileRunningRecordsTheAbort(t *testing.T) {
	type st struct{}
	sink := &notifyingSink{recordingSink: recordingSink{MemorySink: NewMemorySink(), requested: map[string]bool{}}, got: make(chan struct{})}
	f := New[st]("cancelled", WithSink(sink))
	entered := make(chan struct{})
	r, cancel := startCancellable(t, f,
		NewStep("A", func(context.Context, *st) (Outcome, error) { return "", nil },
			WithRollback(func(context.Context, *st) error { return nil })),
		NewStep("B", func(ctx context.Context, _ *st) (Outcome, error) {
			close(entered)
			<-ctx.Done()
			select { // the step is still in flight: the request comes first
			case <-sink.got:
			case <-time.After(10 * time.Second):
				t.Error("the cancelled context's abort was not recorded while the step ran")
			}
			return "", ctx.Err()
		}))
	<-entered
	cancel()
	res, _ := r.Wait(context.Background())
	if res.Final != StateAborted || !errors.Is(res.Err, ErrAborted) || !sink.AbortRequested("r") {
		t.Errorf("the run ended %s (%v), abort recorded %v; want aborted, recorded", res.Final, res.Err, sink.AbortRequested("r"))
	}

	// A run that ends of itself records no request at its end, when its
	// context is cancelled as the run lets go of it.
	sink2 := &recordingSink{MemorySink: NewMemorySink(), requested: map[string]bool{}}
	g := New[st]("ends", WithSink(sink2))
	if err := g.Register(NewStep("A", func(context.Context, *st) (Outcome, error) { return "", nil })); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	if _, err := g.Execute(ctx2, st{}, WithRunID("q")); err != nil {
		t.Fatal(err)
	}
	cancel2()
	if sink2.AbortRequested("q") {
		t.Error("a run that ended done recorded an abort request")
	}
}

// notifyingSink is a recordingSink that closes got at the first request.
type notifyingSink struct {
	recordingSink
	once sync.Once
	got  chan struct{}
}

func (s *notifyingSink) RequestAbort(ctx context.Context, runID string) error {
	err := s.recordingSink.RequestAbort(ctx, runID)
	s.once.Do(func() { close(s.got) })
	return err
}

// startCancellable registers steps on f and starts run "r" under a
// context the test cancels.
func startCancellable[S any](t *testing.T, f *Flow[S], steps ...*Step[S]) (*Run[S], context.CancelFunc) {
	t.Helper()
	if err := f.Register(steps...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var zero S
	r, err := f.Start(ctx, zero, WithRunID("r"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return r, cancel
}
