package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// Starting a run ID the store already has fails with ErrDuplicateRun, in
// this process (the run is finished) and in the next one, and the existing
// run's history is untouched.
func TestStartExistingRunID(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	f := newOrderFlow(st, newLedger(), nil, "")
	if _, err := f.Execute(context.Background(), order{Scenario: "ok"}, runtime.WithRunID("o-1")); err != nil {
		t.Fatal(err)
	}
	before, err := st.LoadHistory(context.Background(), "o-1")
	if err != nil {
		t.Fatal(err)
	}
	// The store's refusal is the caller's duplicate, not a failing sink.
	if _, err := f.Start(context.Background(), order{Scenario: "ship-fails"}, runtime.WithRunID("o-1")); !errors.Is(err, runtime.ErrDuplicateRun) ||
		!errors.Is(err, ErrSequence) || errors.Is(err, runtime.ErrSink) {
		t.Fatalf("Start of an existing run ID: %v, want ErrDuplicateRun (and ErrSequence), not ErrSink", err)
	} else if strings.Contains(err.Error(), ErrSequence.Error()) {
		// Said as what it is: before, the message ended "(store: event
		// out of sequence)", which reads as a failing store.
		t.Errorf("Start of an existing run ID: %q reads as a store failure", err)
	}
	if _, err := f.Execute(context.Background(), order{Scenario: "ship-fails"}, runtime.WithRunID("o-1")); !errors.Is(err, runtime.ErrDuplicateRun) {
		t.Fatalf("Execute of an existing run ID: %v, want ErrDuplicateRun", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir)
	defer st.Close()
	f = newOrderFlow(st, newLedger(), nil, "")
	if _, err := f.Start(context.Background(), order{Scenario: "ok"}, runtime.WithRunID("o-1")); !errors.Is(err, runtime.ErrDuplicateRun) {
		t.Fatalf("Start after a reopen: %v, want ErrDuplicateRun", err)
	}
	after, err := st.LoadHistory(context.Background(), "o-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the existing run changed (-before +after):\n%s", diff)
	}
}

// TestStartRunIDBeingStarted: a run ID whose first event another flow is
// writing to the store at that moment is as much a duplicate as one the
// store holds: Start fails with ErrDuplicateRun, not ErrSink, logging
// nothing, and the run being started is untouched. The store said only
// "emitted while another event of the run is being written"
// (ErrSequence), which the runtime took for a failing sink.
func TestStartRunIDBeingStarted(t *testing.T) {
	ctx := context.Background()
	var logged strings.Builder
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	var b *runtime.Flow[order]
	var second error
	var once sync.Once
	st, err := Open(t.TempDir(), Options{CompactEvery: -1, Hook: func(point string) {
		if point == "before-write" {
			// A's first event of run x is being written.
			once.Do(func() { _, second = b.Start(ctx, order{}, runtime.WithRunID("x")) })
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	step := runtime.NewStep("S", func(context.Context, *order) (runtime.Outcome, error) { return runtime.OutcomeOK, nil })
	a := runtime.New[order]("A", runtime.WithSink(st), runtime.WithLogger(logger))
	b = runtime.New[order]("B", runtime.WithSink(st), runtime.WithLogger(logger))
	if err := a.Register(step); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(runtime.NewStep("S", step.Exec)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Execute(ctx, order{}, runtime.WithRunID("x")); err != nil {
		t.Fatalf("the run being started: %v", err)
	}
	if !errors.Is(second, runtime.ErrDuplicateRun) || errors.Is(second, runtime.ErrSink) {
		t.Fatalf("Start of a run ID being started: %v, want ErrDuplicateRun, not ErrSink", second)
	}
	if logged.Len() > 0 {
		t.Errorf("a duplicate run ID was logged:\n%s", logged.String())
	}
	if h, err := st.Load("x"); err != nil || h[0].Flow != "A" || h[len(h)-1].To != "done" {
		t.Errorf("run x: %v, %v; want A's run, done", h, err)
	}
}
