package wal

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// A read-only open while a group commit is written and not yet synced
// (not acknowledged: a failed sync or a power loss takes it back) shows
// the records synced before it and not that commit's; once the commit is
// synced, a read-only open shows it. The open showed every whole record
// in the files, that commit's too.
func TestReadOnlyShowsOnlySynced(t *testing.T) {
	if bootID == "" {
		t.Skip("no boot ID on this system: a SYNCED mark limits no reader")
	}
	dir := t.TempDir()
	var mu sync.Mutex
	inFlight := false
	var seen []int // what each read-only open under a commit in flight read
	var readErr error
	hook := func(point string) {
		mu.Lock()
		defer mu.Unlock()
		if point != "after-write-before-sync" || !inFlight {
			return
		}
		recs, l, err := readAll(t, dir, Options{ReadOnly: true})
		if err != nil {
			readErr = err
			return
		}
		l.Close()
		seen = append(seen, len(recs))
	}
	_, l, err := readAll(t, dir, Options{Hook: hook, SegmentSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 20 { // several segments: records synced in sealed ones, and in the active one
		mu.Lock()
		inFlight = true
		mu.Unlock()
		mustAppend(t, l, payload(i))
		mu.Lock()
		inFlight = false
		mu.Unlock()
		recs, r, err := readAll(t, dir, Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if len(recs) != i+1 {
			t.Fatalf("after append %d returned: a read-only open read %d records, want %d", i, len(recs), i+1)
		}
	}
	if readErr != nil {
		t.Fatal(readErr)
	}
	for i, n := range seen {
		if n != i {
			t.Errorf("append %d written, not synced: a read-only open read %d records, want the %d synced", i, n, i)
		}
	}
}

// A SYNCED mark from another boot limits no reader: the page cache it
// stood for is gone, and what the files hold is what is durable.
func TestReadOnlyIgnoresAMarkOfAnotherBoot(t *testing.T) {
	dir := t.TempDir()
	_, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustAppend(t, l, payload(i))
	}
	l.Close()
	mark, ok, err := readSynced(dir)
	if err != nil || !ok {
		t.Fatalf("SYNCED: %+v, %v, %v", mark, ok, err)
	}
	// The end of the second record, marked in another boot.
	markOfAnotherBoot(t, dir, Pos{Segment: 1, Offset: segHeaderSize + int64(len(appendRecord(nil, payload(0)))+len(appendRecord(nil, payload(1))))})
	recs, r, err := readAll(t, dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if len(recs) != 3 {
		t.Fatalf("a mark of another boot: %d records read, want the 3 in the file", len(recs))
	}
}

// markOfAnotherBoot writes dir's SYNCED as a writer of another boot of the
// system left it, marking pos: what the log holds after a power loss.
func markOfAnotherBoot(t *testing.T, dir string, pos Pos) {
	t.Helper()
	b := encodeSynced(pos)
	copy(b[24:24+bootSize], "another-boot")
	for i := 24 + len("another-boot"); i < 24+bootSize; i++ {
		b[i] = 0
	}
	b = append(b[:24+bootSize], encodeChecksum(b[:24+bootSize])...)
	if err := os.WriteFile(filepath.Join(dir, syncedName), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// encodeChecksum is the 4 bytes of b's masked checksum, as SYNCED ends.
func encodeChecksum(b []byte) []byte {
	c := checksum(b)
	return []byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
}

// A newest segment removed (by hand, or lost) fails Open, read-only too,
// as a missing segment in the middle does; it opened with the segment
// before as the last, the records synced in the one removed gone unsaid.
func TestMissingNewestSegmentIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	pos := manySegments(t, dir, Options{SegmentSize: 256}, 3)
	last := pos[len(pos)-1].Segment
	newest := SegmentPath(dir, last)
	held, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(newest); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{ReadOnly: true}, {}} {
		_, l, err := readAll(t, dir, opts)
		if err == nil {
			l.Close()
			t.Fatalf("read-only %v: the log opened without its newest segment", opts.ReadOnly)
		}
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Segment != newest {
			t.Fatalf("read-only %v: %v, want a CorruptError naming %s", opts.ReadOnly, err, newest)
		}
	}
	// The refused opens changed nothing: the segment put back, the log
	// opens whole.
	if err := os.WriteFile(newest, held, 0o600); err != nil {
		t.Fatal(err)
	}
	recs, l, err := readAll(t, dir, Options{})
	if err != nil || len(recs) != len(pos) {
		t.Fatalf("the segment put back: %d records, %v", len(recs), err)
	}
	l.Close()
}

// A mark an earlier flowgen left (it does not keep SYNCED) names a
// segment before the ones it went on to write: a read-only open in the
// same boot shows their records all the same, as with no mark, since a
// writer of this version marks a segment before it appends to it.
func TestReadOnlyIgnoresAStaleMark(t *testing.T) {
	if bootID == "" {
		t.Skip("no boot ID on this system: a SYNCED mark limits no reader")
	}
	dir := t.TempDir()
	_, l, err := readAll(t, dir, Options{SegmentSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, payload(0))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	stale, err := os.ReadFile(filepath.Join(dir, syncedName))
	if err != nil {
		t.Fatal(err)
	}
	// The earlier writer: appends over several segments, the mark left as
	// it was.
	_, l, err = readAll(t, dir, Options{SegmentSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 20; i++ {
		mustAppend(t, l, payload(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, syncedName), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	recs, r, err := readAll(t, dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if len(recs) != 20 {
		t.Fatalf("a read-only open beside a stale mark read %d records, want the 20 acknowledged", len(recs))
	}
}
