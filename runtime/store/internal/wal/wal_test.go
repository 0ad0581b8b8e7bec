package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func payload(i int) []byte {
	return []byte(fmt.Sprintf("record-%06d-%s", i, bytes.Repeat([]byte{'x'}, i%37)))
}

// readAll opens dir and returns every record in order.
func readAll(t *testing.T, dir string, opts Options) ([][]byte, *Log, error) {
	t.Helper()
	var recs [][]byte
	l, err := Open(dir, opts, func(_ Pos, p []byte) error {
		recs = append(recs, bytes.Clone(p))
		return nil
	})
	return recs, l, err
}

func mustAppend(t *testing.T, l *Log, p []byte) Pos {
	t.Helper()
	pos, err := l.Append(p)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return pos
}

func TestAppendReopenReadAt(t *testing.T) {
	dir := t.TempDir()
	_, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pos []Pos
	for i := range 100 {
		pos = append(pos, mustAppend(t, l, payload(i)))
	}
	for i, p := range pos {
		got, err := l.ReadAt(p)
		if err != nil || !bytes.Equal(got, payload(i)) {
			t.Fatalf("ReadAt(%v) = %q, %v; want %q", p, got, err, payload(i))
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	recs, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(recs) != 100 {
		t.Fatalf("reopened %d records, want 100", len(recs))
	}
	for i, r := range recs {
		if !bytes.Equal(r, payload(i)) {
			t.Fatalf("record %d = %q", i, r)
		}
	}
}

func TestEmptyAndOversizedRecordsRejected(t *testing.T) {
	_, l, err := readAll(t, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(nil); err == nil {
		t.Fatal("empty record accepted")
	}
	if _, err := l.Append(make([]byte, MaxRecord+1)); err == nil {
		t.Fatal("oversized record accepted")
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	_, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, l2, err := readAll(t, dir, Options{}); err == nil {
		l2.Close()
		t.Fatal("second Open of a locked log succeeded")
	}
}

// countingSync counts syncs so tests can see group commit share them.
func countingSync(n *atomic.Int64) func(*os.File) error {
	return func(f *os.File) error { n.Add(1); return syncFile(f) }
}

func TestConcurrentAppendsShareSyncs(t *testing.T) {
	dir := t.TempDir()
	var syncs atomic.Int64
	opts := Options{sync: countingSync(&syncs), SegmentSize: 64 << 10}
	_, l, err := readAll(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 32, 100
	var wg sync.WaitGroup
	got := make([][]Pos, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				got[w] = append(got[w], mustAppend(t, l, payload(w*each+i)))
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		for i, p := range got[w] {
			b, err := l.ReadAt(p)
			if err != nil || !bytes.Equal(b, payload(w*each+i)) {
				t.Fatalf("writer %d record %d at %v: %q, %v", w, i, p, b, err)
			}
		}
	}
	// Without sharing there would be one sync per record; with 32 writers
	// queueing behind each sync there must be far fewer.
	if s := syncs.Load(); s >= writers*each {
		t.Errorf("%d syncs for %d appends: group commit shared none", s, writers*each)
	}
	l.Close()
	recs, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(recs) != writers*each {
		t.Fatalf("reopened %d records, want %d", len(recs), writers*each)
	}
	segs, _ := listSegments(l.dir, false)
	if len(segs) < 2 {
		t.Fatalf("expected rotation into several segments, got %d", len(segs))
	}
}

func TestMaxBatchAndMaxWait(t *testing.T) {
	var batches []int
	var mu sync.Mutex
	opts := Options{MaxBatch: 8, MaxWait: time.Hour}
	opts.Hook = func(point string) {}
	_, l, err := readAll(t, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// With MaxWait of an hour, the leader only writes once 8 records queued:
	// 16 concurrent appends must complete, in batches of exactly 8.
	l.opts.sync = func(f *os.File) error {
		mu.Lock()
		batches = append(batches, 1)
		mu.Unlock()
		return syncFile(f)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() { defer wg.Done(); mustAppend(t, l, payload(i)) }()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(batches) != 2 {
		t.Fatalf("%d syncs, want 2 full batches of 8", len(batches))
	}
}

// TestMaxWaitEndsWhenTheBatchIsClosed: a leader waiting MaxWait for more
// records writes as soon as none can join its batch any more: 8 MiB of
// records makes the next one start a batch of its own, and a Seal queues
// one, so waiting longer would delay the batch for nothing. Before, only
// MaxBatch records ended the wait, and these appends waited an hour.
func TestMaxWaitEndsWhenTheBatchIsClosed(t *testing.T) {
	_, l, err := readAll(t, t.TempDir(), Options{MaxWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Closed at the end only: Close waits for the appends, which a failure
	// leaves waiting out MaxWait.
	// queued waits until the batch at the head of the queue holds n records.
	queued := func(n int) {
		t.Helper()
		for {
			l.mu.Lock()
			ok := len(l.queue) > 0 && l.queue[0].n == n
			l.mu.Unlock()
			if ok {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	// returned fails the test if done is not closed soon: an append
	// waiting out MaxWait.
	returned := func(done <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatalf("%s still waiting: the leader waits MaxWait for a batch no record can join", what)
		}
	}
	rec := bytes.Repeat([]byte{'x'}, 1<<20)
	appendAsync := func(wg *sync.WaitGroup) {
		wg.Add(1)
		go func() { defer wg.Done(); mustAppend(t, l, rec) }()
	}
	// Seven records of 1 MiB fit in the first batch; the eighth does not.
	var first, second sync.WaitGroup
	for i := range 7 {
		appendAsync(&first)
		queued(i + 1)
	}
	appendAsync(&second)
	done := make(chan struct{})
	go func() { first.Wait(); close(done) }()
	returned(done, "the batch of 7 MiB")
	// The eighth leads a batch of its own, waiting for more; a Seal
	// behind it ends the wait.
	queued(1)
	sealed := make(chan struct{})
	go func() {
		if err := l.Seal(); err != nil {
			t.Error(err)
		}
		second.Wait()
		close(sealed)
	}()
	returned(sealed, "the record before a Seal")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFailedSyncIsPermanent(t *testing.T) {
	dir := t.TempDir()
	failed := make(chan error, 16) // OnFail's calls: one is expected
	_, l, err := readAll(t, dir, Options{OnFail: func(err error) { failed <- err }})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, payload(0))
	boom := errors.New("injected EIO")
	var fail atomic.Bool
	fail.Store(true)
	l.opts.sync = func(f *os.File) error {
		if fail.Load() {
			return boom
		}
		return syncFile(f)
	}
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = l.Append(payload(i + 1)) }()
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrFailed) || !errors.Is(err, boom) {
			t.Fatalf("append %d during failing sync: %v, want ErrFailed wrapping the cause", i, err)
		}
	}
	// The disk "recovers": the log must still refuse, never report a false success.
	fail.Store(false)
	if _, err := l.Append(payload(99)); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after failed sync: %v, want ErrFailed", err)
	}
	// OnFail heard of it, with the cause: a service stops rather than
	// refuse every write until someone restarts it.
	if err := <-failed; !errors.Is(err, ErrFailed) || !errors.Is(err, boom) {
		t.Fatalf("OnFail(%v), want ErrFailed wrapping the cause", err)
	}
	l.Close()
	if len(failed) != 0 {
		t.Fatalf("OnFail called %d more times, want once", len(failed))
	}
	// Reopening decides from the disk what survived; the acknowledged record did.
	recs, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(recs) == 0 || !bytes.Equal(recs[0], payload(0)) {
		t.Fatalf("acknowledged record lost: %q", recs)
	}
}

// writeLog builds a single-segment log of n records and returns the segment
// path and the offset at which each record starts (plus the end offset).
func writeLog(t *testing.T, dir string, n int) (string, []int64) {
	t.Helper()
	_, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for i := range n {
		offs = append(offs, mustAppend(t, l, payload(i)).Offset)
	}
	path := l.SegmentPath(l.seg)
	offs = append(offs, l.size)
	l.Close()
	return path, offs
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
	}
	return dst
}

// TestTornTailAtEveryOffset cuts the log at every byte offset of its last
// records: the log must open with exactly the records wholly before the
// cut (read-only too, which cuts nothing), and records appended after must
// survive another reopen.
func TestTornTailAtEveryOffset(t *testing.T) {
	base := t.TempDir()
	const n = 20
	path, offs := writeLog(t, base, n)
	// The final write, of the last 4 records, never synced: the mark
	// names where it began.
	markOfAnotherBoot(t, base, Pos{Segment: 1, Offset: offs[n-4]})
	full, _ := os.ReadFile(path)
	name := filepath.Base(path)
	for cut := offs[n-4]; cut < offs[n]; cut++ {
		dir := copyDir(t, base)
		if err := os.WriteFile(filepath.Join(dir, name), full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		want := 0
		for want < n && offs[want+1] <= cut {
			want++
		}
		// Read-only (the CLI beside a server writing that tail): the whole
		// records, and the file as it was.
		recs, l, err := readAll(t, dir, Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("cut at %d: read-only open: %v", cut, err)
		}
		l.Close()
		if got, _ := os.ReadFile(filepath.Join(dir, name)); len(recs) != want || !bytes.Equal(got, full[:cut]) {
			t.Fatalf("cut at %d: read-only open read %d records (want %d), left %d bytes (were %d)", cut, len(recs), want, len(got), cut)
		}
		recs, l, err = readAll(t, dir, Options{})
		if err != nil {
			t.Fatalf("cut at %d: open: %v", cut, err)
		}
		if len(recs) != want {
			t.Fatalf("cut at %d: %d records, want %d", cut, len(recs), want)
		}
		mustAppend(t, l, []byte("after-recovery-1"))
		mustAppend(t, l, []byte("after-recovery-2"))
		l.Close()
		recs, l, err = readAll(t, dir, Options{})
		if err != nil {
			t.Fatalf("cut at %d: second open: %v", cut, err)
		}
		l.Close()
		if len(recs) != want+2 || string(recs[want+1]) != "after-recovery-2" {
			t.Fatalf("cut at %d: second open has %d records, want %d ending in the later appends", cut, len(recs), want+2)
		}
	}
}

func TestZeroFilledTailIsTorn(t *testing.T) {
	base := t.TempDir()
	path, offs := writeLog(t, base, 5)
	markOfAnotherBoot(t, base, Pos{Segment: 1, Offset: offs[4]})
	full, _ := os.ReadFile(path)
	// The size grew but the last record's data never reached the disk.
	damaged := append(bytes.Clone(full[:offs[4]]), make([]byte, 4096)...)
	os.WriteFile(path, damaged, 0o644)
	recs, l, err := readAll(t, base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
}

// TestFlipInMiddleIsCorrupt flips every byte of every record but the last
// (and of the segment header): the log must refuse to open with a
// CorruptError naming the segment and the damaged record's offset.
func TestFlipInMiddleIsCorrupt(t *testing.T) {
	base := t.TempDir()
	const n = 6
	path, offs := writeLog(t, base, n)
	full, _ := os.ReadFile(path)
	for i := int64(0); i < offs[n-1]; i++ {
		damaged := bytes.Clone(full)
		damaged[i] ^= 0xff
		os.WriteFile(path, damaged, 0o644)
		_, l, err := readAll(t, base, Options{})
		if err == nil {
			l.Close()
			t.Fatalf("flip at %d: log opened", i)
		}
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at %d: %v, want *CorruptError", i, err)
		}
		wantOff := int64(0)
		for _, o := range offs {
			if o <= i {
				wantOff = o
			}
		}
		if i < segHeaderSize {
			wantOff = 0
		}
		if ce.Segment != path || ce.Offset != wantOff {
			t.Fatalf("flip at %d: error at %s:%d, want %s:%d", i, ce.Segment, ce.Offset, path, wantOff)
		}
	}
	// The file was never truncated by the refused opens.
	os.WriteFile(path, full, 0o644)
	recs, l, err := readAll(t, base, Options{})
	if err != nil || len(recs) != n {
		t.Fatalf("restored log: %d records, %v", len(recs), err)
	}
	l.Close()
}

func TestDamageInSealedSegmentIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	_, l, err := readAll(t, dir, Options{SegmentSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		mustAppend(t, l, payload(i))
	}
	segs, _ := listSegments(l.dir, false)
	l.Close()
	if len(segs) < 3 {
		t.Fatalf("want at least 3 segments, got %d", len(segs))
	}
	// Cutting the tail of a sealed segment is damage, not a torn write.
	first := filepath.Join(dir, fmt.Sprintf("%016x.seg", segs[0].n))
	b, _ := os.ReadFile(first)
	os.WriteFile(first, b[:len(b)-3], 0o644)
	if _, l, err := readAll(t, dir, Options{}); !errors.Is(err, ErrCorrupt) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("truncated sealed segment: %v, want ErrCorrupt", err)
	}
	os.WriteFile(first, b, 0o644)
	// A missing segment in the middle is damage too.
	os.Remove(filepath.Join(dir, fmt.Sprintf("%016x.seg", segs[1].n)))
	if _, l, err := readAll(t, dir, Options{}); !errors.Is(err, ErrCorrupt) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("missing segment: %v, want ErrCorrupt", err)
	}
}

// logOf writes a log of one record, p, in dir, closed.
func logOf(t *testing.T, dir string, p []byte) {
	t.Helper()
	_, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, p)
	l.Close()
}

func TestTornSegmentCreation(t *testing.T) {
	dir := t.TempDir()
	logOf(t, dir, payload(1))
	// A crash right after creating segment 2 leaves it empty or with part of
	// its header; either way it holds nothing and is started again. What
	// it held is said (TornTail), as a torn tail's bytes are: a last
	// segment of zeros may be one whose records never reached the disk
	// though its size did (it was not said).
	for _, content := range [][]byte{nil, segmentHeader()[:5], segmentHeader()[:12], make([]byte, 16), make([]byte, 4096)} {
		seg2 := filepath.Join(dir, fmt.Sprintf("%016x.seg", 2))
		os.WriteFile(seg2, content, 0o644)
		recs, l, err := readAll(t, dir, Options{})
		if err != nil {
			t.Fatalf("header %q: %v", content, err)
		}
		if len(recs) != 1 {
			t.Fatalf("header %q: %d records", content, len(recs))
		}
		tail, ok := l.TornTail()
		if want := (TornTail{Segment: seg2, Bytes: int64(len(content))}); ok != (len(content) > 0) || ok && tail != want {
			t.Errorf("%d bytes of header: TornTail() = %+v, %v; want %+v", len(content), tail, ok, want)
		}
		mustAppend(t, l, []byte("x"))
		l.Close()
		recs, l, err = readAll(t, dir, Options{})
		if err != nil || len(recs) != 2 {
			t.Fatalf("header %q: reopen: %d records, %v", content, len(recs), err)
		}
		l.Close()
		os.Remove(seg2)
		// Restore a one-record log for the next case.
		os.RemoveAll(dir)
		_, l, _ = readAll(t, dir, Options{})
		mustAppend(t, l, payload(1))
		l.Close()
	}
}
