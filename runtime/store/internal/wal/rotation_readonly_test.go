package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A writer that crashed while it rotated left a last segment that holds
// nothing (empty, part of a header, zeros); restarted, it removes that
// segment and appends to the one before. A read-only open racing it may
// list the leftover (it holds it open, removed or not) and read the segment
// before while a write to it is under way: that segment is the log's
// tail, and the write in progress is skipped, as in a last segment. It was
// read as a sealed one, and the open failed with a false CorruptError
// ("truncated record"). Each case is the files as such a reader sees them,
// without a SYNCED file (a log an earlier flowgen wrote, or one written in
// another boot), which would stop the reader at the synced end before the
// write under way, and with it.
func TestReadOnlyBesideARestartAfterATornRotation(t *testing.T) {
	base := t.TempDir()
	const n = 5
	path, _ := writeLog(t, base, n)
	full, _ := os.ReadFile(path)
	next := appendRecord(nil, payload(n)) // the write under way
	name := filepath.Base(path)
	leftover := fmt.Sprintf("%016x.seg", 2)
	for _, content := range [][]byte{nil, segmentHeader()[:5], make([]byte, 16), make([]byte, 4096)} {
		for cut := 1; cut < len(next); cut++ {
			dir := copyDir(t, base)
			if err := os.WriteFile(filepath.Join(dir, name), append(bytes.Clone(full), next[:cut]...), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, leftover), content, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, mark := range []bool{true, false} {
				if !mark {
					os.Remove(filepath.Join(dir, syncedName))
				}
				recs, l, err := readAll(t, dir, Options{ReadOnly: true})
				if err != nil {
					t.Fatalf("leftover of %d bytes, %d bytes of the write under way, SYNCED %v: read-only open: %v", len(content), cut, mark, err)
				}
				l.Close()
				if len(recs) != n {
					t.Fatalf("leftover of %d bytes, %d bytes of the write under way, SYNCED %v: %d records, want %d", len(content), cut, mark, len(recs), n)
				}
			}
		}
	}
	// A sealed segment followed by a segment with a whole header (the
	// active one, its records to come) is read as sealed still: a
	// partial record in it is damage.
	dir := copyDir(t, base)
	os.WriteFile(filepath.Join(dir, name), append(bytes.Clone(full), next[:len(next)-1]...), 0o644)
	os.WriteFile(filepath.Join(dir, leftover), segmentHeader(), 0o644)
	os.Remove(filepath.Join(dir, syncedName))
	if _, l, err := readAll(t, dir, Options{ReadOnly: true}); err == nil {
		l.Close()
		t.Fatal("a sealed segment cut inside a record opened read-only")
	}
}
