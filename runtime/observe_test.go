package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// fakeObserver records what the runtime tells an Observer.
type fakeObserver struct {
	mu    sync.Mutex
	log   []string
	lives int
}

type ctxMark struct{}

func (o *fakeObserver) add(s string) {
	o.mu.Lock()
	o.log = append(o.log, s)
	o.mu.Unlock()
}

func (o *fakeObserver) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.log)
}

func (o *fakeObserver) ObserveRun(ctx context.Context, info runtime.RunInfo) (context.Context, runtime.RunObserver) {
	o.mu.Lock()
	o.lives++
	life := o.lives
	o.mu.Unlock()
	o.add(fmt.Sprintf("run %s %s resumed=%v machine=%s trace=%q", info.Flow, info.RunID, info.Resumed, info.Machine, info.Trace))
	return context.WithValue(ctx, ctxMark{}, life), &fakeRunObserver{o: o, life: life}
}

type fakeRunObserver struct {
	o    *fakeObserver
	life int
}

func (r *fakeRunObserver) Trace() string { return fmt.Sprintf("life-%d", r.life) }

func (r *fakeRunObserver) Action(ctx context.Context, a runtime.Action) (context.Context, func(runtime.Outcome, error)) {
	return context.WithValue(ctx, ctxMark{}, a.Key().String()), func(out runtime.Outcome, err error) {
		r.o.add(fmt.Sprintf("action %s#%d rollback=%v key=%s -> %s", a.Step, a.Attempt, a.Rollback, a.Key(), out))
	}
}

func (r *fakeRunObserver) Recorded(e *runtime.Event) {
	r.o.add(fmt.Sprintf("event %d %s>%s trace=%q", e.Seq, e.From, e.To, e.Trace))
}

func (r *fakeRunObserver) Ended(final runtime.RunState, err error) {
	r.o.add(fmt.Sprintf("ended %s suspended=%v", final, errors.Is(err, runtime.ErrSuspended)))
}

// TestObserverSeesEveryAttempt: the observer sees the run begin, each
// attempt of a step and of a rollback with its idempotency key and
// outcome, every recorded event (the first one carrying its Trace), and the
// end; the actions run under the context it returned.
func TestObserverSeesEveryAttempt(t *testing.T) {
	obs := &fakeObserver{}
	sink := runtime.NewMemorySink()
	f := runtime.New[state]("F", runtime.WithSink(sink), runtime.WithObserver(obs))
	var keysSeen []any
	failures := 1
	mustRegister(t, f,
		runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			keysSeen = append(keysSeen, ctx.Value(ctxMark{}))
			if failures > 0 {
				failures--
				return "", errors.New("flaky")
			}
			return runtime.OutcomeOK, nil
		}, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 3}),
			runtime.WithRollback(func(ctx context.Context, s *state) error {
				keysSeen = append(keysSeen, ctx.Value(ctxMark{}))
				return nil
			})),
		runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("no"))
		}),
	)
	res, _ := f.Execute(context.Background(), state{}, runtime.WithRunID("r1"))
	if res.Final != runtime.StateCompensated {
		t.Fatalf("final %s", res.Final)
	}
	want := []string{
		`run F r1 resumed=false machine=pending trace=""`,
		`event 1 pending>A:running trace="life-1"`,
		`action A#1 rollback=false key=r1/A -> error`,
		`event 2 A:running>A:running trace=""`,
		`action A#2 rollback=false key=r1/A -> ok`,
		`event 3 A:running>B:running trace=""`,
		`action B#1 rollback=false key=r1/B -> error`,
		`event 4 B:running>failing trace=""`,
		`event 5 failing>A:rollback trace=""`,
		`action A#1 rollback=true key=r1/A/rollback -> ok`,
		`event 6 A:rollback>failing trace=""`,
		`event 7 failing>compensated trace=""`,
		`ended compensated suspended=false`,
	}
	if diff := cmp.Diff(want, obs.all()); diff != "" {
		t.Errorf("observer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"r1/A", "r1/A", "r1/A/rollback"}, keysSeen); diff != "" {
		t.Errorf("actions' contexts (-want +got):\n%s", diff)
	}
	if h := sink.History("r1"); h[0].Trace != "life-1" || h[1].Trace != "" {
		t.Errorf("traces recorded: %q, %q", h[0].Trace, h[1].Trace)
	}
}

// TestObserverResumeGetsTrace: a resumed run's observer is told the trace
// its earlier life recorded and where it resumes, and the first event of
// the new life records the new trace.
func TestObserverResumeGetsTrace(t *testing.T) {
	obs := &fakeObserver{}
	sink := runtime.NewMemorySink()
	f := runtime.New[state]("F", runtime.WithSink(sink), runtime.WithObserver(obs))
	block := make(chan struct{})
	mustRegister(t, f,
		runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) { return "", nil }),
		runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			<-block
			return "", nil
		}),
		runtime.NewStep("C", func(ctx context.Context, s *state) (runtime.Outcome, error) { return "", nil }),
	)
	r, err := f.Start(context.Background(), state{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	for r.Status().Machine != "B:running" {
		time.Sleep(time.Millisecond)
	}
	_ = r.Suspend()
	close(block)
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("wait: %v", err)
	}
	h := sink.History("r1")
	g := runtime.New[state]("F", runtime.WithSink(sink), runtime.WithObserver(obs))
	mustRegister(t, g,
		runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) { return "", nil }),
		runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) { return "", nil }),
		runtime.NewStep("C", func(ctx context.Context, s *state) (runtime.Outcome, error) { return "", nil }),
	)
	r2, err := g.Resume(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	log := obs.all()
	if !slices.Contains(log, `ended running suspended=true`) {
		t.Errorf("no suspended end in %q", log)
	}
	if !slices.Contains(log, `run F r1 resumed=true machine=C:running trace="life-1"`) {
		t.Errorf("resume not observed with the first life's trace: %q", log)
	}
	h = sink.History("r1")
	last := h[len(h)-1]
	if last.Trace != "life-2" {
		t.Errorf("the new life's first event records trace %q, want life-2", last.Trace)
	}
}

// TestNoObserverNoTrace: without an observer nothing is recorded in
// Event.Trace.
func TestNoObserverNoTrace(t *testing.T) {
	sink := runtime.NewMemorySink()
	f := runtime.New[state]("F", runtime.WithSink(sink))
	rec := newRecorder()
	mustRegister(t, f, okStep(rec, "A"))
	if _, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r1")); err != nil {
		t.Fatal(err)
	}
	for _, e := range sink.History("r1") {
		if e.Trace != "" {
			t.Errorf("event %d has trace %q", e.Seq, e.Trace)
		}
	}
}

// TestObserverSeesUnknownOutcomeAsError: an attempt that returns a named
// outcome its flow does not route fails the step (ErrUnknownOutcome), and
// the observer is told so: outcome error, with that error, not the name
// the step returned, which is anything a handler (a remote provider)
// chose. A routed named outcome reaches it as it is.
func TestObserverSeesUnknownOutcomeAsError(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	obs := observerFunc(func(step string, out runtime.Outcome, err error) {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s -> %s unknown=%v", step, out, errors.Is(err, runtime.ErrUnknownOutcome)))
		mu.Unlock()
	})
	f := runtime.New[state]("F", runtime.WithObserver(obs))
	mustRegister(t, f,
		runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { return "approved", nil },
			runtime.WithNext[state]("approved", "B")),
		runtime.NewStep("B", func(context.Context, *state) (runtime.Outcome, error) { return "order-42", nil }),
	)
	res, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r1"))
	if res.Final != runtime.StateFailed || !errors.Is(err, runtime.ErrUnknownOutcome) {
		t.Fatalf("run ended %s, %v", res.Final, err)
	}
	if diff := cmp.Diff([]string{"A -> approved unknown=false", "B -> error unknown=true"}, seen); diff != "" {
		t.Errorf("attempts observed (-want +got):\n%s", diff)
	}
}

// observerFunc is an Observer that tells f how each step attempt ended.
type observerFunc func(step string, out runtime.Outcome, err error)

func (f observerFunc) ObserveRun(ctx context.Context, _ runtime.RunInfo) (context.Context, runtime.RunObserver) {
	return ctx, attemptsObserver{f}
}

type attemptsObserver struct{ f observerFunc }

func (attemptsObserver) Trace() string { return "" }
func (o attemptsObserver) Action(ctx context.Context, a runtime.Action) (context.Context, func(runtime.Outcome, error)) {
	return ctx, func(out runtime.Outcome, err error) {
		if !a.Rollback {
			o.f(a.Step, out, err)
		}
	}
}
func (attemptsObserver) Recorded(*runtime.Event)       {}
func (attemptsObserver) Ended(runtime.RunState, error) {}
