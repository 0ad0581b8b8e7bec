package store

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/flowgen/flowgen/runtime/store/internal/wal"
)

// indexHeap writes a log of runs runs of events events each (short run
// IDs, as "run-00001"), opens it, and returns the heap the open store holds.
func indexHeap(t *testing.T, runs, events int) uint64 {
	t.Helper()
	tos := make([]string, events)
	for i := range tos[:events-1] {
		tos[i] = fmt.Sprintf("S%d:running", i+1)
	}
	tos[events-1] = "done"
	return openHeap(t, runs, func(r int) (recs [][]byte) {
		for _, e := range history(fmt.Sprintf("run-%05d", r), "F", tos...) {
			recs = append(recs, mustEncodeEvent(t, &e))
		}
		return recs
	})
}

// openHeap writes a log of the records of records(i) for each i below n,
// opens it read-only and returns the heap the open store holds.
func openHeap(t *testing.T, n int, records func(i int) [][]byte) uint64 {
	t.Helper()
	dir := t.TempDir()
	l, err := wal.Open(dir, wal.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for i := range n {
		if recs = append(recs, records(i)...); len(recs) >= 4096 || i == n-1 {
			if _, err := l.AppendAll(recs); err != nil {
				t.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	l.Close()
	base := heapInUse()
	st, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := heapInUse() - base
	runtime.KeepAlive(st)
	return h
}

// TestIndexSize measures what the open store's index holds, against what
// docs/store.md says of it ("Gaps"): about 500 bytes a run (short IDs)
// with up to 8 events, and at most 32 bytes per event past those.
func TestIndexSize(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200,000 events")
	}
	const runs = 4000
	short := indexHeap(t, runs, 3)
	long := indexHeap(t, runs, 48)
	perRun := float64(short) / runs
	perEvent := (float64(long) - float64(short)) / (runs * 45)
	t.Logf("%.0f bytes a run of 3 events, %.1f bytes per event past them", perRun, perEvent)
	if perRun > 500*1.25 {
		t.Errorf("%.0f bytes a run of 3 events; docs/store.md says about 500", perRun)
	}
	if perEvent > 32 {
		t.Errorf("%.1f bytes per event past 8; docs/store.md says at most 32", perEvent)
	}
}

// inboxHeap writes a log of n messages received (IDs as "m-0000001"),
// opens it, and returns the heap the open store holds.
func inboxHeap(t *testing.T, n int) uint64 {
	t.Helper()
	return openHeap(t, n, func(i int) [][]byte {
		m := msg("payments", "paid", fmt.Sprintf("m-%07d", i), `{"amount":1}`, t0)
		return [][]byte{encodeMessage(nil, receivedRecord(&m))}
	})
}

// TestInboxIndexSize measures what the open store's index holds per inbox
// message, against what docs/store.md says of it ("Gaps"): about 350
// bytes a message with short keys (its topic, event and ID included),
// within engine.InboxMessageOverhead with the engine's own record.
func TestInboxIndexSize(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 messages")
	}
	const n = 100_000
	few, many := inboxHeap(t, 1000), inboxHeap(t, n+1000)
	per := (float64(many) - float64(few)) / n
	t.Logf("%.0f bytes a message", per)
	if per > 400 {
		t.Errorf("%.0f bytes a message; docs/store.md says about 350, at most 400", per)
	}
}
