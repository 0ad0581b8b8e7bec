package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestTraceRecordKind: an event with a trace is a kind 4 record that reads
// back with it; an event without one is the kind 3 record it always was,
// so a store written without tracing reads in an older flowgen.
func TestTraceRecordKind(t *testing.T) {
	e := fiveStepEvents("r-1")[0]
	plain := mustEncodeEvent(t, &e)
	if plain[0] != kindEvent {
		t.Fatalf("untraced event written as kind %d", plain[0])
	}
	e.Trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	traced := mustEncodeEvent(t, &e)
	if traced[0] != kindExtended {
		t.Fatalf("traced event written as kind %d", traced[0])
	}
	got, err := decodeEvent(traced)
	if err != nil || got.Trace != e.Trace {
		t.Fatalf("decode: %q, %v", got.Trace, err)
	}
	// The kind 3 record of the same event is the traced one without its
	// last two fields: an empty branch (one length byte) and the trace.
	if string(traced[1:len(traced)-len(e.Trace)-2]) != string(plain[1:]) {
		t.Fatal("kind 4 is not kind 3 with the branch and trace appended")
	}
}

// TestLinkRecordKind: an event that ends a wait on a traced delivery is a
// kind 6 record, the kind 5 record of the same event with the link
// appended; without a link the event stays what it was.
func TestLinkRecordKind(t *testing.T) {
	e := fiveStepEvents("r-1")[1]
	e.Payload = []byte(`{"paid":true}`)
	plain := mustEncodeEvent(t, &e)
	if plain[0] != kindEvent {
		t.Fatalf("event without a link written as kind %d", plain[0])
	}
	e.Link = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	woken := mustEncodeEvent(t, &e)
	if woken[0] != kindWoken {
		t.Fatalf("event with a link written as kind %d", woken[0])
	}
	got, err := decodeEvent(woken)
	if err != nil || got.Link != e.Link || string(got.Payload) != string(e.Payload) {
		t.Fatalf("decode: link %q payload %s, %v", got.Link, got.Payload, err)
	}
	// Kind 5's fields: an empty branch, trace, parent and child (one
	// length byte each), then the link.
	linked := append([]byte{kindLinked}, plain[1:]...)
	linked = append(linked, 0, 0, 0, 0, 0, 0)
	if string(woken[:len(woken)-len(e.Link)-1]) != string(append([]byte{kindWoken}, linked[1:]...)) {
		t.Fatal("kind 6 is not kind 5 with the link appended")
	}
}

// TestCommittedHook: Options.Committed sees every durable record once,
// in batches, with a sync time.
func TestCommittedHook(t *testing.T) {
	var mu sync.Mutex
	records, commits := 0, 0
	s, err := Open(t.TempDir(), Options{Committed: func(n int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if n < 1 || d < 0 {
			t.Errorf("commit of %d records in %v", n, d)
		}
		records += n
		commits++
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			for _, e := range fiveStepEvents("r-" + string(rune('a'+i))) {
				if err := s.Emit(context.Background(), e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if records != 20*6 || commits < 1 || commits > records {
		t.Errorf("%d records in %d commits, want 120 records", records, commits)
	}
}
