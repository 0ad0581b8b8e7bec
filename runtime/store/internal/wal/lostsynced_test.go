package wal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A last segment cut (by hand) below the offset SYNCED names lost records
// that were synced and acknowledged: no interrupted final write leaves
// that, since the mark is written only once what it names is durable.
// Open refuses it as damage, naming the segment and where its records
// end, and changes no file, whatever the cut (inside a record, between
// two, inside the segment header) and whichever boot wrote the mark. It
// was cut as a torn tail, with only a warning. A read-only open refuses it
// the same way: it showed the records left as a whole log.
func TestCutBelowTheMarkIsCorrupt(t *testing.T) {
	base := t.TempDir()
	const n = 6
	path, offs := writeLog(t, base, n)
	full, _ := os.ReadFile(path)
	name := filepath.Base(path)
	for _, boot := range []string{"this", "another"} {
		for cut := int64(0); cut < offs[n]; cut++ {
			dir := copyDir(t, base)
			if boot == "another" {
				markOfAnotherBoot(t, dir, Pos{Segment: 1, Offset: offs[n]})
			}
			seg := filepath.Join(dir, name)
			if err := os.WriteFile(seg, full[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			end := int64(0) // where the records left end: no whole header, none
			if cut >= segHeaderSize {
				end = segHeaderSize
				for i := range n {
					if offs[i+1] <= cut {
						end = offs[i+1]
					}
				}
			}
			marked, _ := os.ReadFile(filepath.Join(dir, syncedName))
			_, l, err := readAll(t, dir, Options{})
			if err == nil {
				l.Close()
				t.Fatalf("mark of %s boot, cut at %d: the log opened", boot, cut)
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Segment != seg || ce.Offset != end {
				t.Fatalf("mark of %s boot, cut at %d: %v, want a CorruptError naming %s at offset %d", boot, cut, err, seg, end)
			}
			if got, _ := os.ReadFile(seg); !bytes.Equal(got, full[:cut]) {
				t.Fatalf("mark of %s boot, cut at %d: the segment holds %d bytes after the refused open", boot, cut, len(got))
			}
			if got, _ := os.ReadFile(filepath.Join(dir, syncedName)); !bytes.Equal(got, marked) {
				t.Fatalf("mark of %s boot, cut at %d: SYNCED changed by the refused open", boot, cut)
			}
			// A read-only open (the CLI) names the same damage, where it
			// showed the records left as a whole log.
			_, l, err = readAll(t, dir, Options{ReadOnly: true})
			if err == nil {
				l.Close()
				t.Fatalf("mark of %s boot, cut at %d: the log opened read-only", boot, cut)
			}
			if !errors.As(err, &ce) || ce.Segment != seg || ce.Offset != end {
				t.Fatalf("mark of %s boot, cut at %d, read-only: %v, want a CorruptError naming %s at offset %d", boot, cut, err, seg, end)
			}
		}
	}
}

// A mark claims nothing of a segment after the one it names (left by an
// earlier flowgen, which does not keep SYNCED, and went on to a later
// segment), nor does a mark that is not whole: the last segment's torn
// tail is cut as before.
func TestAMarkOfAnotherSegmentOrNoneLeavesTheTornTail(t *testing.T) {
	base := t.TempDir()
	pos := manySegments(t, base, Options{SegmentSize: 256}, 2)
	last := pos[len(pos)-1]
	if err := os.Remove(filepath.Join(base, syncedName)); err != nil {
		t.Fatal(err)
	}
	seg := SegmentPath(base, last.Segment)
	full, _ := os.ReadFile(seg)
	for _, mark := range []string{"earlier segment", "none", "torn"} {
		dir := copyDir(t, base)
		switch mark {
		case "earlier segment":
			markOfAnotherBoot(t, dir, Pos{Segment: last.Segment - 1, Offset: segHeaderSize})
		case "torn":
			if err := os.WriteFile(filepath.Join(dir, syncedName), encodeSynced(Pos{Segment: last.Segment, Offset: int64(len(full))})[:syncedSize-1], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		path := SegmentPath(dir, last.Segment)
		if err := os.WriteFile(path, full[:len(full)-1], 0o644); err != nil {
			t.Fatal(err)
		}
		recs, l, err := readAll(t, dir, Options{SegmentSize: 256})
		if err != nil {
			t.Fatalf("mark %s: %v", mark, err)
		}
		torn, ok := l.TornTail()
		l.Close()
		if len(recs) != len(pos)-1 || !ok || torn.Offset != last.Offset {
			t.Fatalf("mark %s: %d records (want %d), torn tail %+v", mark, len(recs), len(pos)-1, torn)
		}
	}
}
