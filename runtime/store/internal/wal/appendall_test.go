package wal

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestAppendAllKeepsOrderAcrossBatches appends groups of records, each
// larger than a batch, while other writers append one record at a time: each
// group's records are consecutive on disk, in order, after a reopen, and
// each group took one turn in the commit (a few syncs, not one per record).
func TestAppendAllKeepsOrderAcrossBatches(t *testing.T) {
	dir := t.TempDir()
	var syncs atomic.Int64
	opts := Options{sync: countingSync(&syncs), MaxBatch: 5, SegmentSize: 16 << 10}
	_, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const groups, size, singles = 20, 23, 200
	var wg sync.WaitGroup
	for g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := make([][]byte, size)
			for i := range recs {
				recs[i] = fmt.Appendf(nil, "group-%02d-%02d", g, i)
			}
			pos, err := l.AppendAll(recs)
			if err != nil || len(pos) != size {
				t.Errorf("group %d: %d positions, %v", g, len(pos), err)
				return
			}
			for i, p := range pos {
				if got, err := l.ReadAt(p); err != nil || !bytes.Equal(got, recs[i]) {
					t.Errorf("group %d record %d at %v: %q, %v", g, i, p, got, err)
				}
			}
		}()
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range singles / 4 {
				mustAppend(t, l, fmt.Appendf(nil, "single-%d-%d", w, i))
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(recs) != groups*size+singles {
		t.Fatalf("reopened %d records, want %d", len(recs), groups*size+singles)
	}
	seen := map[int]bool{}
	for i := 0; i < len(recs); i++ {
		var g, k int
		if _, err := fmt.Sscanf(string(recs[i]), "group-%02d-%02d", &g, &k); err != nil {
			continue
		}
		if k != 0 || seen[g] {
			t.Fatalf("record %d is %q: a group's records are not consecutive from its first", i, recs[i])
		}
		seen[g] = true
		for j := range size {
			if want := fmt.Sprintf("group-%02d-%02d", g, j); string(recs[i+j]) != want {
				t.Fatalf("record %d is %q, want %q", i+j, recs[i+j], want)
			}
		}
		i += size - 1
	}
	if len(seen) != groups {
		t.Fatalf("%d groups on disk, want %d", len(seen), groups)
	}
	// One at a time, a group would take size syncs.
	if s := syncs.Load(); s >= groups*size {
		t.Errorf("%d syncs for %d groups of %d records", s, groups, size)
	}
}

func TestAppendAllChecksEveryRecordFirst(t *testing.T) {
	_, l, err := readAll(t, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendAll([][]byte{[]byte("a"), nil}); err == nil {
		t.Fatal("an empty record was accepted")
	}
	if pos, err := l.AppendAll(nil); pos != nil || err != nil {
		t.Fatalf("AppendAll(nil) = %v, %v", pos, err)
	}
	l.Close()
	recs, l, err := readAll(t, l.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(recs) != 0 {
		t.Fatalf("a refused group wrote %d records", len(recs))
	}
	if _, err := l.AppendAll([][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := l.AppendAll([][]byte{[]byte("x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("AppendAll after Close: %v", err)
	}
}
