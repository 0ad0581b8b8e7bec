package store

import (
	"context"
	"testing"
)

// TestCloseWaitsForCompact: Close waits for a compaction in progress, a
// Compact or CompactAll of the caller's as a background one
// (docs/store.md, "When"). It waited only for the background loop's: a
// Compact went on swapping segments after Close had returned and
// released the store's LOCK, when another process may have opened the
// directory and be finishing the same swap.
func TestCloseWaitsForCompact(t *testing.T) {
	dir := t.TempDir()
	closeCalled := make(chan struct{})
	closed := make(chan struct{})
	var st *Store
	var closedEarly bool
	opts := compactOpts()
	opts.Hook = func(point string) {
		switch point {
		case "compact-written":
			go func() {
				close(closeCalled)
				st.Close()
				close(closed)
			}()
			<-closeCalled
		case "compact-committed", "compact-swapped":
			select {
			case <-closed:
				closedEarly = true
			default:
			}
		}
	}
	var err error
	st, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	emitAll(t, st, fiveStepEvents("old-1"))
	emitAll(t, st, fiveStepEvents("kept")[:3]) // not over: kept
	if _, err := st.CompactAll(context.Background()); err != nil {
		t.Fatalf("CompactAll: %v", err)
	}
	<-closed
	if closedEarly {
		t.Fatal("Close returned while a compaction was swapping the store's files")
	}
	// The store is whole, and no longer in use.
	st, err = Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Load("kept"); err != nil {
		t.Fatalf("Load after the compaction and a reopen: %v", err)
	}
}
