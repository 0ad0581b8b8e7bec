package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// TestReadOnlyChangesNothing: a store opened with OpenReadOnly (the CLI,
// beside a running server) refuses every change with ErrReadOnly, a
// compaction included, and leaves the files as they were; it reads what
// they hold.
func TestReadOnlyChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(dir, Options{CompactEvery: -1, SegmentSize: 1}) // a segment per record: sealed ones to compact
	if err != nil {
		t.Fatal(err)
	}
	emitAll(t, st, fiveStepEvents("done-1"))
	emitAll(t, st, fiveStepEvents("live")[:2])
	if _, _, err := st.PutMessage(ctx, Message{Topic: "t", Event: "e", ID: "m1", Payload: []byte(`{}`), Received: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	before := segmentBytes(t, dir)

	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	next := fiveStepEvents("live")[2]
	checks := map[string]error{
		"Emit":         ro.Emit(ctx, next),
		"RequestAbort": ro.RequestAbort(ctx, "live"),
		"ClaimMessage": ro.ClaimMessage(ctx, MessageKey{"t", "e", "m1"}, "k", time.Unix(2, 0)),
	}
	_, _, checks["PutMessage"] = ro.PutMessage(ctx, Message{Topic: "t", Event: "e", ID: "m2", Payload: []byte(`{}`), Received: time.Unix(2, 0)})
	_, checks["Compact"] = ro.Compact(ctx)
	_, checks["CompactAll"] = ro.CompactAll(ctx)
	for op, err := range checks {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only store: %v, want ErrReadOnly", op, err)
		}
	}
	if h, err := ro.Load("live"); err != nil || len(h) != 2 {
		t.Errorf("Load: %d events, %v; want the 2 written", len(h), err)
	}
	if ro.AbortRequested("live") {
		t.Error("a refused abort request is pending")
	}
	if ids, err := ro.RunIDs(ctx, "Bench", runtime.StateRunning); err != nil || len(ids) != 1 || ids[0] != "live" {
		t.Errorf("RunIDs: %v, %v", ids, err)
	}
	if got := segmentBytes(t, dir); got != before {
		t.Error("a read-only store changed the segments")
	}
}
