package wal

import (
	"os"
	"testing"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // ReadDir's own
}

// TestDescriptorsBounded: a log of many segments (one that is never
// compacted gains one every SegmentSize bytes) holds at most maxReaders
// read descriptors, besides its locks (2), its active segment's writer,
// its SYNCED file and a compaction's file being written, whatever the number of
// segments: after Open, after reading every record, and in a compaction
// of them all. Before, it held one per segment from Open on, and a
// compaction one more per new segment until it committed.
func TestDescriptorsBounded(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 512}
	const segs = 5 * maxReaders
	pos := manySegments(t, dir, opts, segs)
	bound := openFDs(t) + 2 + 1 + 1 + maxReaders + 1
	check := func(when string) {
		t.Helper()
		if n := openFDs(t); n > bound {
			t.Errorf("%s: %d descriptors open; want at most %d (%d segments)", when, n, bound, segs)
		}
	}
	compacting := false
	opts.Hook = func(point string) {
		if compacting {
			check("compaction, at " + point)
		}
	}
	_, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	check("open")
	for i, p := range pos {
		if _, err := l.ReadAt(p); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	check("read every record")
	if err := l.Seal(); err != nil {
		t.Fatal(err)
	}
	compacting = true
	rewriteAll(t, l)
	compacting = false
	check("compacted")
}
