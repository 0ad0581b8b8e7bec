package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// TestBackgroundCompactionWaitsForHalf: a look of the background loop
// (compact without force) rewrites the sealed segments only when at least
// half the records the store holds could go, so that a rewrite copies at
// most what it removes (docs/store.md, "When"); Compact rewrites whatever
// the share, and a run it removed is unknown afterwards, as a cursor too.
func TestBackgroundCompactionWaitsForHalf(t *testing.T) {
	// Two finished runs older than the retention (12 records) and live runs
	// of live records after them, the last of which seals the rest: one
	// record a segment (SegmentSize 1).
	build := func(live int) *Store {
		opts := compactOpts()
		opts.SegmentSize = 1
		st, err := Open(t.TempDir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		emitAll(t, st, fiveStepEvents("old-1"))
		emitAll(t, st, fiveStepEvents("old-2"))
		for i := 0; live > 0; i++ {
			n := min(live, 5)
			emitAll(t, st, fiveStepEvents(fmt.Sprintf("live-%d", i))[:n])
			live -= n
		}
		return st
	}
	ctx := context.Background()

	// 12 of 25 records could go: less than half.
	st := build(13)
	if stats, ran, err := st.compact(ctx, false); err != nil || ran || stats.RunsRemoved != 0 {
		t.Fatalf("12 of 25 records removable: compacted %v (%+v, %v)", ran, stats, err)
	}
	if _, err := st.Load("old-1"); err != nil {
		t.Fatalf("a look that did not compact removed a run: %v", err)
	}
	if stats, err := st.Compact(ctx); err != nil || stats.RunsRemoved != 2 {
		t.Fatalf("Compact of the same store: %+v, %v; want 2 runs removed", stats, err)
	}
	// A removed run is unknown: its history, and as a cursor of List.
	if _, err := st.Load("old-1"); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("Load of a removed run: %v, want ErrUnknownRun", err)
	}
	if _, err := st.List(Filter{After: "old-1"}); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("List after a removed run: %v, want ErrUnknownRun", err)
	}

	// 12 of 24: half.
	st = build(12)
	if stats, ran, err := st.compact(ctx, false); err != nil || !ran || stats.RunsRemoved != 2 || stats.RecordsRemoved != 12 {
		t.Fatalf("12 of 24 records removable: compacted %v (%+v, %v); want 2 runs, 12 records removed", ran, stats, err)
	}
}

// TestBackgroundCompactionCountsOnlySealedGarbage: the records a look
// counts as garbage are those a rewrite of the sealed segments would
// remove. Messages that expired in the active segment cannot go yet (the
// rewrite leaves that segment alone), so they must not make a look copy
// every kept record of the sealed segments and remove nothing, look after
// look; once the active segment is sealed, they go.
func TestBackgroundCompactionCountsOnlySealedGarbage(t *testing.T) {
	opts := compactOpts()
	opts.SegmentSize = 64 << 20
	st, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	// 10 records of live runs, sealed.
	emitAll(t, st, fiveStepEvents("live-1")[:5])
	emitAll(t, st, fiveStepEvents("live-2")[:5])
	if err := st.log.Seal(); err != nil {
		t.Fatal(err)
	}
	// 20 records of expired messages, all in the active segment.
	for i := range 10 {
		m := Message{Topic: "t", Event: "e", ID: fmt.Sprint(i), Payload: []byte(`1`), Received: compactNow}
		if _, _, err := st.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := st.ExpireMessage(ctx, m.Key(), "", compactNow); err != nil {
			t.Fatal(err)
		}
	}
	if stats, ran, err := st.compact(ctx, false); err != nil || ran {
		t.Fatalf("a look with every removable record in the active segment rewrote the sealed ones: ran %v, %+v, %v", ran, stats, err)
	}
	if err := st.log.Seal(); err != nil {
		t.Fatal(err)
	}
	if stats, ran, err := st.compact(ctx, false); err != nil || !ran || stats.RecordsRemoved != 20 || stats.MessagesRemoved != 10 {
		t.Fatalf("a look once the expired messages are sealed: ran %v, %+v, %v; want 20 records of 10 messages removed", ran, stats, err)
	}
	if stats, ran, err := st.compact(ctx, false); err != nil || ran {
		t.Fatalf("a look after the expired messages went: ran %v, %+v, %v", ran, stats, err)
	}
}
