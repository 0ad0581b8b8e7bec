package wal

import (
	"os"
	"sync"
	"testing"
)

// A writer killed between a group commit's write and its sync leaves the
// commit in the page cache, whole and not durable. The writer opened next
// takes it for part of the log, and SYNCED must not say it is synced until
// it is: a read-only open in this boot would show records a power loss
// takes back, and the writer would go on from them. Open syncs the tail
// before it marks it; it marked the whole file, never synced.
func TestOpenMarksNoTailItDidNotSync(t *testing.T) {
	dir := t.TempDir()
	_, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, payload(0))
	mustAppend(t, l, payload(1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The commit a killed writer wrote and did not sync.
	f, err := os.OpenFile(SegmentPath(dir, 1), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(appendRecord(nil, payload(2))); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var mu sync.Mutex
	synced := map[string]int64{} // each file's size when it was last synced
	opts := Options{sync: func(f *os.File) error {
		if err := syncFile(f); err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			return err
		}
		mu.Lock()
		synced[f.Name()] = st.Size()
		mu.Unlock()
		return nil
	}}
	recs, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(recs) != 3 {
		t.Fatalf("the writer read %d records, want 3", len(recs))
	}
	mark, ok, err := readSynced(dir)
	if err != nil || !ok {
		t.Fatalf("SYNCED: %+v, %v, %v", mark, ok, err)
	}
	mu.Lock()
	end := synced[SegmentPath(dir, mark.pos.Segment)]
	mu.Unlock()
	if mark.pos.Offset > end {
		t.Fatalf("SYNCED says segment %d is synced up to %d; Open synced it up to %d", mark.pos.Segment, mark.pos.Offset, end)
	}
}

// SYNCED that can no longer be written (the disk failing under it) fails
// no commit: the mark is written once the commit is synced, so the commit
// is durable, and an error would say it changed nothing. The mark goes
// instead, and no stale one hides the records after it from a reader. The
// commit failed, the log with it, its record there at the next Open.
func TestAMarkThatCannotBeWrittenFailsNoCommit(t *testing.T) {
	dir := t.TempDir()
	_, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, payload(0))
	l.synced.Close() // SYNCED cannot be written any more
	if _, err := l.Append(payload(1)); err != nil {
		l.Close()
		recs, r, rerr := readAll(t, dir, Options{})
		if rerr == nil {
			r.Close()
		}
		t.Fatalf("the append failed (%v), and the log opened again holds its record: %d records, %v", err, len(recs), rerr)
	}
	mustAppend(t, l, payload(2))
	recs, r, err := readAll(t, dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if len(recs) != 3 {
		t.Fatalf("a read-only open read %d records, want the 3 acknowledged", len(recs))
	}
	if err := l.Close(); err != nil {
		t.Logf("close: %v", err)
	}
}
