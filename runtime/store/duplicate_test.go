package store

import (
	"context"
	"errors"
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
