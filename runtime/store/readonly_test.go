package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
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

// A read-only open beside a writer shows what is durable: while an event
// is written and not yet synced (its Emit has not returned, and a failed
// sync or a power loss takes it back), the run's history ends before it;
// once Emit returned, it is there. It was shown as soon as it was written
// (the SYNCED mark, docs/store.md).
func TestReadOnlyShowsOnlyWhatIsSynced(t *testing.T) {
	dir := t.TempDir()
	var inFlight atomic.Bool
	var mu sync.Mutex
	var seen []int
	var readErr error
	hook := func(point string) {
		if point != "after-write-before-sync" || !inFlight.Load() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		ro, err := OpenReadOnly(dir)
		if err != nil {
			readErr = err
			return
		}
		defer ro.Close()
		h, err := ro.Load("live")
		if err != nil && !errors.Is(err, runtime.ErrUnknownRun) {
			readErr = err
		}
		seen = append(seen, len(h))
	}
	st, err := Open(dir, Options{CompactEvery: -1, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs := fiveStepEvents("live")
	for i, ev := range evs {
		inFlight.Store(true)
		emitAll(t, st, []runtime.Event{ev})
		inFlight.Store(false)
		ro, err := OpenReadOnly(dir)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ro.Load("live")
		ro.Close()
		if err != nil || len(h) != i+1 {
			t.Fatalf("Emit of seq %d returned: a read-only open loads %d events, %v; want %d", ev.Seq, len(h), err, i+1)
		}
	}
	if readErr != nil {
		t.Fatal(readErr)
	}
	if _, err := os.Stat("/proc/sys/kernel/random/boot_id"); err != nil {
		t.Skip("no boot ID on this system: readers show every whole record")
	}
	for i, n := range seen {
		if n != i {
			t.Errorf("event seq %d written, not synced: a read-only open loads %d events, want the %d synced", i+1, n, i)
		}
	}
}

// TestReadOnlyBesideAWriterFindsNoDamage: read-only opens beside a writer
// that appends, rotates its small segments and compacts them all the
// while are never refused as damage (a segment read shorter than the
// SYNCED mark read before it names), and each sees every run whose first
// event was acknowledged before it opened. A read-only open refuses a
// last segment cut below the mark: a change the writer made under way
// must not pass for that.
func TestReadOnlyBesideAWriterFindsNoDamage(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir, Options{SegmentSize: 2048, CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const runs = 150
	var acked atomic.Int64 // runs whose first event Emit acknowledged
	done := make(chan struct{})
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for opens := 0; ; opens++ {
			select {
			case <-done:
				if opens == 0 {
					readErr = errors.New("no read-only open ran")
				}
				return
			default:
			}
			want := acked.Load()
			ro, err := OpenReadOnly(dir)
			if err != nil {
				readErr = err
				return
			}
			live, err := ro.NonTerminal("Bench")
			ro.Close()
			if err != nil {
				readErr = err
				return
			}
			if int64(len(live)) < want {
				readErr = fmt.Errorf("a read-only open shows %d runs, after %d were acknowledged", len(live), want)
				return
			}
		}
	}()
	for i := range runs {
		evs := fiveStepEvents(fmt.Sprintf("run-%03d", i))
		emitAll(t, st, evs[:1])
		acked.Add(1)
		emitAll(t, st, evs[1:3]) // left running: compaction keeps it
		if i%20 == 19 {
			if _, err := st.CompactAll(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
}
