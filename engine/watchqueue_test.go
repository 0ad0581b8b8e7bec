package engine

import (
	"log/slog"
	goruntime "runtime"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A GET /watch stream holds what is queued for it, not its bound:
// WatchBuffer is a count of events, and each stream allocated a queue of
// that many up front, so flowgen serve -watch-buffer 1000000000000 died
// (fatal error: out of memory) at the first GET /watch, which a viewer
// token opens, and -watch-buffer 1000000 held 56 MB for each stream,
// idle or not, beyond -watch-bytes. The queue still ends the stream past
// its bound in events.
func TestWatchBufferNotAllocatedUpFront(t *testing.T) {
	const buffer = 1 << 20 // 56 MiB of queue, allocated up front
	h := newWatchHub(1, buffer, 0, slog.New(slog.DiscardHandler))
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	w, err := h.add("", "", "", false, true, "")
	goruntime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	// Far below the 56 MiB of the old queue, far above a stream's own
	// bytes: other goroutines of the package's earlier tests may allocate
	// in the window too.
	if took := after.TotalAlloc - before.TotalAlloc; took > 8<<20 {
		t.Errorf("opening a stream with a buffer of %d events allocated %d bytes, before any event", buffer, took)
	}
	for i := range 3 {
		h.publish(runtime.Event{RunID: "r", Seq: uint64(i + 1)})
	}
	if n := w.len(); n != 3 {
		t.Fatalf("%d events queued, want 3", n)
	}
	for i := range 3 {
		x, ok := w.pop()
		if !ok || x.id != "id: r/"+string(rune('1'+i))+"\n" {
			t.Fatalf("event %d: %q, %v; want the events in order", i+1, x.id, ok)
		}
	}
	if _, ok := w.pop(); ok || w.bytes() != 0 {
		t.Errorf("an empty queue popped an event, or counts %d bytes", w.bytes())
	}

	small := newWatchHub(1, 2, 0, slog.New(slog.DiscardHandler))
	s, _ := small.add("", "", "", false, true, "")
	for i := range 3 {
		small.publish(runtime.Event{RunID: "r", Seq: uint64(i + 1)})
	}
	select {
	case <-s.overflow:
	default:
		t.Error("a stream 3 events behind with a buffer of 2 was not told to stop")
	}
}

// len is how many events w's queue holds (the tests' view of it).
func (w *watcher) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.q)
}

// bytes is how many bytes of data w's queue holds.
func (w *watcher) bytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queued
}
