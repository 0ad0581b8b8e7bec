package wal

import (
	"bytes"
	"sync"
	"testing"
)

// manySegments makes a log in dir of at least segs segments, each holding
// a few records, and returns the records' positions, in order (record i
// is payload(i)).
func manySegments(t *testing.T, dir string, opts Options, segs uint64) []Pos {
	t.Helper()
	_, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var pos []Pos
	for i := 0; len(pos) == 0 || pos[len(pos)-1].Segment < segs; i++ {
		pos = append(pos, mustAppend(t, l, payload(i)))
	}
	return pos
}

// TestReadsAcrossManySegments: readers racing over far more segments than
// the log keeps descriptors of, their descriptors let go of (and opened
// again) while others read them, each read the record it asked for.
func TestReadsAcrossManySegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 512}
	pos := manySegments(t, dir, opts, 4*maxReaders)
	_, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 3 * len(pos) {
				i := (k*7919 + g*104729) % len(pos)
				got, err := l.ReadAt(pos[i])
				if err != nil || !bytes.Equal(got, payload(i)) {
					t.Errorf("ReadAt(%v) = %q, %v; want %q", pos[i], got, err, payload(i))
					return
				}
			}
		})
	}
	wg.Wait()
	l.rmu.Lock()
	held := len(l.readers)
	l.rmu.Unlock()
	if held > maxReaders {
		t.Errorf("%d segment descriptors held; want at most %d", held, maxReaders)
	}
}
