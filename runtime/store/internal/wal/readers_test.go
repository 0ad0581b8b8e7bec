package wal

import (
	"bytes"
	"errors"
	"os"
	"strings"
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

// TestReadOfASegmentCutSinceOpen: a record whose segment file was cut
// after Open read it (by hand: this process never cuts a segment once
// open) is a *CorruptError naming the segment and the record's offset.
// Before, it was "wal: read {1 69}: EOF", which named neither the file
// nor the damage.
func TestReadOfASegmentCutSinceOpen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 512}
	pos := manySegments(t, dir, opts, 2)
	_, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := pos[2]
	for _, size := range []int64{p.Offset + recHeaderSize + 1, p.Offset + 3} { // in the payload, in the header
		if err := os.Truncate(SegmentPath(dir, 1), size); err != nil {
			t.Fatal(err)
		}
		_, err := l.ReadAt(p)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Segment != SegmentPath(dir, 1) || ce.Offset != p.Offset || !strings.Contains(err.Error(), "cut since") {
			t.Errorf("segment cut to %d bytes: ReadAt(%v) = %v; want a *CorruptError naming it and offset %d", size, p, err, p.Offset)
		}
	}
}
