package wal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestZeroFilledTailAtEveryOffset: a final write of several records whose
// size reached the disk but whose data did so only up to some byte (a
// power loss: the rest reads as zeros) is a torn tail, wherever that byte
// falls: inside a record's header, inside its payload, or between two
// records. The log opens with exactly the records wholly before it, and
// appends after survive a reopen. It was refused as corruption when the
// cut fell inside a record that other (zeroed) records of the same write
// followed: "bad record checksum" or "bad record header checksum".
func TestZeroFilledTailAtEveryOffset(t *testing.T) {
	base := t.TempDir()
	const n = 12
	path, offs := writeLog(t, base, n)
	// The final write, of the last 4 records, never synced: the mark
	// names where it began.
	markOfAnotherBoot(t, base, Pos{Segment: 1, Offset: offs[n-4]})
	full, _ := os.ReadFile(path)
	name := filepath.Base(path)
	for cut := offs[n-4]; cut < offs[n]; cut++ {
		dir := copyDir(t, base)
		damaged := append(bytes.Clone(full[:cut]), make([]byte, int64(len(full))-cut)...)
		if err := os.WriteFile(filepath.Join(dir, name), damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		want := 0
		for want < n && offs[want+1] <= cut {
			want++
		}
		recs, l, err := readAll(t, dir, Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("zeros from %d: read-only open: %v", cut, err)
		}
		l.Close()
		if len(recs) != want {
			t.Fatalf("zeros from %d: read-only open read %d records, want %d", cut, len(recs), want)
		}
		recs, l, err = readAll(t, dir, Options{})
		if err != nil {
			t.Fatalf("zeros from %d: open: %v", cut, err)
		}
		if len(recs) != want {
			t.Fatalf("zeros from %d: %d records, want %d", cut, len(recs), want)
		}
		mustAppend(t, l, []byte("after-recovery"))
		l.Close()
		recs, l, err = readAll(t, dir, Options{})
		if err != nil {
			t.Fatalf("zeros from %d: second open: %v", cut, err)
		}
		l.Close()
		if len(recs) != want+1 || string(recs[want]) != "after-recovery" {
			t.Fatalf("zeros from %d: second open has %d records, want %d ending in the later append", cut, len(recs), want+1)
		}
	}
}
