package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRewrite: the sealed segments rewritten with every other record, the
// active one untouched; Seal of an empty active segment adds none.
func TestRewrite(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 512}
	_, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		mustAppend(t, l, payload(i))
	}
	if err := l.Seal(); err != nil {
		t.Fatal(err)
	}
	lo, hi, ok := l.Sealed()
	if err := l.Seal(); err != nil { // the active segment is empty: no new one
		t.Fatal(err)
	}
	if lo2, hi2, _ := l.Sealed(); !ok || lo != 1 || lo2 != lo || hi2 != hi {
		t.Fatalf("sealed %d..%d (%v), then %d..%d", lo, hi, ok, lo2, hi2)
	}
	after := mustAppend(t, l, payload(1000))
	rw, err := l.Rewrite(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	var moved []Pos
	i := 0
	if err := l.Scan(lo, hi, func(_ Pos, p []byte) error {
		if i%2 == 0 {
			pos, err := rw.Add(p)
			if err != nil {
				return err
			}
			want, moved = append(want, bytes.Clone(p)), append(moved, pos)
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := rw.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := rw.Commit(); err != nil {
		t.Fatal(err)
	}
	for j, p := range moved {
		got, err := l.ReadAt(rw.Final(p))
		if err != nil || !bytes.Equal(got, want[j]) {
			t.Fatalf("record %d at %v: %q, %v", j, rw.Final(p), got, err)
		}
	}
	if got, err := l.ReadAt(after); err != nil || !bytes.Equal(got, payload(1000)) {
		t.Fatalf("active segment's record: %q, %v", got, err)
	}
	mustAppend(t, l, payload(1001))
	l.Close()
	recs, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	want = append(want, payload(1000), payload(1001))
	if len(recs) != len(want) {
		t.Fatalf("reopened %d records, want %d", len(recs), len(want))
	}
	for j := range want {
		if !bytes.Equal(recs[j], want[j]) {
			t.Fatalf("record %d: %q, want %q", j, recs[j], want[j])
		}
	}

	// Leftovers of a compaction that never committed go at open.
	os.WriteFile(filepath.Join(dir, "compact.0"), []byte("junk"), 0o644)
	os.WriteFile(filepath.Join(dir, "COMPACT.tmp"), []byte("junk"), 0o644)
	recs, l, err = readAll(t, dir, opts)
	if err != nil || len(recs) != len(want) {
		t.Fatalf("with leftovers: %d records, %v", len(recs), err)
	}
	l.Close()
	for _, f := range []string{"compact.0", "COMPACT.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after open", f)
		}
	}
	// A damaged manifest is damage: nothing is guessed or changed.
	os.WriteFile(filepath.Join(dir, "COMPACT"), []byte("FLOWGCMP but not a manifest"), 0o644)
	for _, ro := range []bool{false, true} {
		if _, l, err := readAll(t, dir, Options{ReadOnly: ro}); !errors.Is(err, ErrCorrupt) {
			if l != nil {
				l.Close()
			}
			t.Fatalf("bad manifest (read-only %v): %v, want ErrCorrupt", ro, err)
		}
	}
}

// TestFailedLogRefusesRewrite: once the log failed (a sync, or a swap
// whose manifest is durable but whose files could not be moved: Commit
// fails the log and leaves the swap to the next Open), a rewrite neither
// starts nor commits, as no Append does: what is on disk is no longer what
// the process knows, and a second compaction would write its compact.j
// files and manifest over those of a swap the next Open must finish. It
// went ahead.
func TestFailedLogRefusesRewrite(t *testing.T) {
	dir := t.TempDir()
	l := sealedLog(t, dir, 256, 30)
	defer l.Close()
	lo, hi, ok := l.Sealed()
	if !ok {
		t.Fatal("nothing sealed")
	}
	started, err := l.Rewrite(lo, hi) // begun before the failure
	if err != nil {
		t.Fatal(err)
	}
	if _, err := started.Add(payload(0)); err != nil {
		t.Fatal(err)
	}
	if err := started.Prepare(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(dir)
	boom := errors.New("injected: the swap could not be finished")
	l.Fail(boom)
	if _, err := l.Rewrite(lo, hi); !errors.Is(err, ErrFailed) {
		t.Errorf("Rewrite of a failed log: %v, want ErrFailed", err)
	}
	if err := started.Commit(); !errors.Is(err, ErrFailed) {
		t.Errorf("Commit on a failed log: %v, want ErrFailed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "COMPACT")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed log wrote a compaction manifest: %v", err)
	}
	after, _ := os.ReadDir(dir)
	if len(after) > len(before) {
		t.Errorf("files before %d, after %d", len(before), len(after))
	}
}

// TestFailedSwapReadsNoOtherRecord: a swap that fails after its commit
// point (here a rename refused: the second new segment is a directory)
// leaves segments lo..hi partly the new set's, while the caller's
// positions are still the old set's (it moves them only once Commit
// succeeds). ReadAt of such a position read whatever record of the new
// set began there: another record, checksummed and whole. It now fails,
// until the log is reopened, which finishes the swap.
func TestFailedSwapReadsNoOtherRecord(t *testing.T) {
	dir := t.TempDir()
	rec := RecordSize(len(payload(0)))
	renamed := 0
	opts := Options{SegmentSize: segHeaderSize + 4*rec, Hook: func(point string) {
		if point != "compact-renamed" {
			return
		}
		if renamed++; renamed == 1 {
			p := compactPath(dir, 1)
			if err := os.Rename(p, filepath.Join(dir, "aside")); err != nil {
				t.Error(err)
			}
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Error(err)
			}
		}
	}}
	_, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var pos []Pos
	for i := range 17 { // payloads of one size: four records a segment
		pos = append(pos, mustAppend(t, l, payload(i*37)))
	}
	lo, hi, ok := l.Sealed()
	if !ok || lo != 1 || hi != 4 {
		t.Fatalf("sealed %d..%d (%v), want 1..4", lo, hi, ok)
	}
	rw, err := l.Rewrite(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	if err := l.Scan(lo, hi, func(_ Pos, p []byte) error {
		if i++; i%2 == 0 {
			_, err := rw.Add(p)
			return err
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := rw.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := rw.Commit(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Commit with a rename refused: %v, want ErrFailed", err)
	}
	for i, p := range pos {
		got, err := l.ReadAt(p)
		if err == nil && !bytes.Equal(got, payload(i*37)) {
			t.Errorf("record %d at %v after the failed swap: read %q", i, p, got)
		}
		if p.Segment <= hi && !errors.Is(err, ErrFailed) {
			t.Errorf("record %d at %v after the failed swap: %v, want ErrFailed", i, p, err)
		}
		if p.Segment > hi && err != nil { // the active segment, not swapped, reads on
			t.Errorf("record %d at %v, past the swapped segments, after the failed swap: %v", i, p, err)
		}
	}
	// The new segment back in its place, the reopened log finishes the
	// swap: the kept records, then the active segment's.
	l.Close()
	if err := os.Remove(compactPath(dir, 1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "aside"), compactPath(dir, 1)); err != nil {
		t.Fatal(err)
	}
	recs, l2, err := readAll(t, dir, Options{SegmentSize: opts.SegmentSize})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	want := [][]byte{}
	for i := 1; i < 16; i += 2 {
		want = append(want, payload(i*37))
	}
	want = append(want, payload(16*37))
	if len(recs) != len(want) {
		t.Fatalf("reopened: %d records, want %d", len(recs), len(want))
	}
	for i := range want {
		if !bytes.Equal(recs[i], want[i]) {
			t.Errorf("reopened: record %d %q, want %q", i, recs[i], want[i])
		}
	}
}

// sealedLog opens a log in dir of segments of segSize bytes and appends n
// records, all sealed.
func sealedLog(t *testing.T, dir string, segSize int64, n int) *Log {
	t.Helper()
	_, l, err := readAll(t, dir, Options{SegmentSize: segSize})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		mustAppend(t, l, payload(i))
	}
	if err := l.Seal(); err != nil {
		l.Close()
		t.Fatal(err)
	}
	return l
}
