package store

import (
	"context"
	"errors"
	"testing"
	"time"
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

// TestClosedStoreRefuses: after Close, Emit and every other write fail
// with ErrClosed (store.ErrClosed's doc), writing nothing, and a second
// Close is harmless.
func TestClosedStoreRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	evs := fiveStepEvents("r")
	emitAll(t, st, evs[:2])
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Emit(ctx, evs[2]); !errors.Is(err, ErrClosed) {
		t.Errorf("Emit after Close: %v, want ErrClosed", err)
	}
	if err := st.RequestAbort(ctx, "r"); !errors.Is(err, ErrClosed) {
		t.Errorf("RequestAbort after Close: %v, want ErrClosed", err)
	}
	if _, _, err := st.PutMessage(ctx, Message{Topic: "t", Event: "e", ID: "m", Received: time.Unix(1, 0)}); !errors.Is(err, ErrClosed) {
		t.Errorf("PutMessage after Close: %v, want ErrClosed", err)
	}
	if _, err := st.CompactAll(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("CompactAll after Close: %v, want ErrClosed", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	st, err = Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if h, err := st.Load("r"); err != nil || len(h) != 2 {
		t.Errorf("after a reopen: %d events, %v; want the 2 written before Close", len(h), err)
	}
	if st.AbortRequested("r") {
		t.Error("a refused abort request is pending after a reopen")
	}
}
