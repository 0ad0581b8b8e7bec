package store

import (
	"errors"
	"os"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store/internal/wal"
)

// Events emitted (acknowledged: synced, and SYNCED says so), then the
// last segment cut by hand inside the last record: Open refuses the store
// as damaged, naming the segment and where its whole records end, and
// leaves the file as it was. It was taken for a torn write and cut, with
// only a warning, the acknowledged event gone.
func TestCutBelowTheSyncedMarkIsCorrupt(t *testing.T) {
	dir, _, ends := doneStore(t)
	n := len(ends)
	seg := wal.SegmentPath(dir, 1)
	cut := ends[n-1] - 1
	if err := os.Truncate(seg, cut); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err == nil {
		tail, _ := s.TornTail()
		s.Close()
		t.Fatalf("the store opened, torn tail %+v", tail)
	}
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Segment != seg || ce.Offset != ends[n-2] {
		t.Fatalf("%v, want a CorruptError naming %s at offset %d", err, seg, ends[n-2])
	}
	if fi, err := os.Stat(seg); err != nil || fi.Size() != cut {
		t.Fatalf("the segment after the refused open: %v, %v; want %d bytes", fi, err, cut)
	}
}

// A final write past the mark that never finished (a writer killed in
// it) is a torn tail, cut as before.
func TestTornWritePastTheSyncedMarkIsCut(t *testing.T) {
	dir, full, ends := doneStore(t)
	n := len(ends)
	seg := wal.SegmentPath(dir, 1)
	// The start of the last record written again after the end: a copy
	// cut short, a write the kill interrupted.
	torn := append(full, full[ends[n-2]:ends[n-1]-1]...)
	if err := os.WriteFile(seg, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir)
	defer s.Close()
	tail, ok := s.TornTail()
	if want := (TornTail{Segment: seg, Offset: ends[n-1], Bytes: int64(len(torn)) - ends[n-1]}); !ok || tail != want {
		t.Fatalf("TornTail() = %+v, %v; want %+v", tail, ok, want)
	}
	if a, _ := s.Get("a"); a.State != runtime.StateDone || a.Events != len(doneRun) {
		t.Fatalf("run a after the cut: %+v", a)
	}
}

// doneStore is a closed store of one run, done, as its writer left it
// (SYNCED too): its directory, its segment and where its records end.
func doneStore(t *testing.T) (string, []byte, []int64) {
	t.Helper()
	dir := t.TempDir()
	s := openStore(t, dir)
	emitAll(t, s, history("a", "F", doneRun...))
	s.Close()
	full, ends := segmentAndEnds(t, dir)
	return dir, full, ends
}
