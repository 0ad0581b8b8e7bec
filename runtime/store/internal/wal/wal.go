// Package wal is an append-only log of checksummed records in rotating
// segment files, with group commit: an Append returns only once its record is
// written and synced, and concurrent appenders share one sync.
package wal

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgen/flowgen/internal/atomicfile"
	"github.com/flowgen/flowgen/internal/regfile"
)

// Pos locates a record: segment number and byte offset of its header.
type Pos struct {
	Segment uint64
	Offset  int64
}

// Compare orders positions as the log holds their records: -1 if p's comes
// before q's, 0 if they are one, +1 if it comes after.
func (p Pos) Compare(q Pos) int {
	return cmp.Or(cmp.Compare(p.Segment, q.Segment), cmp.Compare(p.Offset, q.Offset))
}

// Options configure a Log. Zero values pick the defaults.
type Options struct {
	// SegmentSize is the size after which the next write starts a new
	// segment file (default 64 MiB). A batch is never split across segments.
	SegmentSize int64
	// MaxBatch caps the records written and synced together (default 4096).
	MaxBatch int
	// MaxWait is how long the appender that leads a group commit waits for
	// more records before writing, unless the batch fills first (MaxBatch
	// records, or 8 MiB: the next record starts a batch of its own). The default 0
	// batches only what queued up while the previous sync was in flight,
	// which is free latency-wise and is enough under concurrency.
	MaxWait time.Duration
	// Hook, if set, is called at the named durability points of every group
	// commit: "before-write", "after-write-before-sync", "after-sync-before-ack".
	// Crash tests use it to kill the process at an exact point.
	Hook func(point string)
	// Committed, if set, is called after each group commit that synced:
	// how many records it made durable and how long the sync took. It
	// runs on the committing appender's goroutine before the batch is
	// acknowledged: it must be quick (a metric update).
	Committed func(records int, sync time.Duration)
	// OnFail, if set, is called once, on a goroutine of its own, when the
	// log fails (a write or sync failed, or Fail): from then on every
	// Append fails until the log is reopened, so a service learns that it
	// must stop (and be restarted) rather than refuse every write for good.
	// Close waits for it to return: it must not call Close itself.
	OnFail func(err error)

	// ReadOnly opens the log for reading while another process may be
	// appending to it: no lock, nothing created or cut (a torn or
	// in-progress tail is skipped, not removed), and Append fails.
	ReadOnly bool

	// sync replaces the file sync in tests (fault injection).
	sync func(*os.File) error
}

const (
	defaultSegmentSize = 64 << 20
	defaultMaxBatch    = 4096
	maxBatchBytes      = 8 << 20
)

// ErrClosed is returned by operations on a closed Log.
var ErrClosed = errors.New("log closed")

// ErrReadOnly is returned by Append on a log opened ReadOnly.
var ErrReadOnly = errors.New("log opened read-only")

// ErrFailed is matched (errors.Is) by the error of every Append after a write
// or sync failed. Such a failure leaves the on-disk state unknown (after a
// failed fsync Linux may drop the dirty pages and report success on the next
// one), so the log never retries: it stays failed until reopened, when the
// scan decides what actually reached the disk.
var ErrFailed = errors.New("log failed")

// ErrInUse is matched (errors.Is) by Open's error when another process
// holds the log's directory.
var ErrInUse = errors.New("log in use by another process")

type failedError struct{ cause error }

func (e *failedError) Error() string {
	return fmt.Sprintf("log failed permanently: %v", e.cause)
}
func (e *failedError) Unwrap() []error { return []error{ErrFailed, e.cause} }

// FailedCause returns the write or sync error that failed the log when
// err is a failed log's (ErrFailed), else nil: for a caller that words the
// failure for what it was doing.
func FailedCause(err error) error {
	if fe, ok := errors.AsType[*failedError](err); ok {
		return fe.cause
	}
	return nil
}

// batch is one group commit: records appended by several callers, written
// with one write and made durable with one sync.
type batch struct {
	buf     []byte
	n       int
	tell    []applied     // the records' Appliers, in the batch's order
	applied chan struct{} // closed once they were told (or the batch failed)
	seal    bool          // a Seal request: start a new segment, write nothing
	pos     Pos           // where buf starts on disk, set by the leader
	err     error         // set before done is closed
	done    chan struct{} // closed when the batch is durable or failed
	lead    chan struct{} // one token: the waiter that receives it commits the batch
	full    chan struct{} // closed once no record can join (only used with MaxWait): see closeFull
	filled  bool          // full is closed
}

// closeFull ends the wait of b's leader for more records (MaxWait): b is
// full, or a batch queued behind it takes the records that come next (b
// would pass maxBatchBytes, or a Seal), so that waiting longer would only
// delay b. l.mu is held.
func (b *batch) closeFull() {
	if b.full != nil && !b.filled {
		b.filled = true
		close(b.full)
	}
}

// Log is an append-only log. It is safe for concurrent use.
type Log struct {
	dir      string
	opts     Options
	lock     []*os.File // lockDir's
	instance string     // Instance

	mu      sync.Mutex
	queue   []*batch // batches waiting to be committed; new records go to the last
	syncing bool     // a leader is committing; it hands over to queue[0] when done
	// applying is the batch committed last: the next batch's Appliers are
	// told after its own.
	applying *batch
	closed   bool
	failed   error
	active   sync.WaitGroup // Appends in progress, for Close
	// told is closed once Options.OnFail has returned; nil while the log
	// has not failed (or has no OnFail). Close waits for it.
	told chan struct{}

	// Writer state, touched only by the current leader.
	seg    uint64
	f      *os.File
	size   int64
	synced *os.File // SYNCED, the mark of what is synced (synced.go); nil: none kept

	// activeSeg is seg, readable by anyone (compaction takes every segment
	// below it as sealed); first is the oldest segment, which a compaction
	// moves up.
	activeSeg atomic.Uint64
	first     atomic.Uint64

	// The segments' read descriptors (readers.go).
	rmu     sync.Mutex
	readers map[uint64]*segReader
	clock   uint64 // counts their uses, for the least recently used
	// swapFailed is the last segment of a swap that failed after its
	// commit point (Rewrite.Commit): segments up to it are not read.
	swapFailed uint64

	torn TornTail // what Open cut, set before it returns
}

// TornTail is what Open cut off the end of the log: the bytes after the
// last whole record of the last segment. A write that never finished
// leaves them; damage to the last records that only zeros follow, or to
// the last record alone, looks the same and goes the same way, records
// that were acknowledged among them (docs/store.md, "Torn tail"), which is
// why Open says what it cut. Never below the SYNCED mark of the segment:
// that is damage (lostSynced), but the mark may lag what was synced.
type TornTail struct {
	Segment string // the segment file
	Offset  int64  // where it was cut: the end of the last whole record; 0: the segment, without a whole header, was removed
	Bytes   int64  // how many bytes went
}

func (t TornTail) String() string {
	if t.Offset == 0 {
		return fmt.Sprintf("the log ended in a torn write, removed at open: %s, %d bytes without a whole segment header (%s)", t.Segment, t.Bytes, TornTailMeaning)
	}
	return fmt.Sprintf("the log ended in a torn write, cut at open: %d bytes at offset %d of %s (%s)", t.Bytes, t.Offset, t.Segment, TornTailMeaning)
}

// TornTailMeaning is what a torn tail means to whoever reads it said: the
// operator's question is whether acknowledged work went. A write is
// acknowledged once synced, and what is synced is whole, so a cut is a
// write that never finished, or damage that looks like one (Open refuses
// a cut below SYNCED's mark as damage).
const TornTailMeaning = "a write never acknowledged, or damage to the last records that looks the same"

// TornTail reports the torn tail Open cut, if it cut one. A read-only
// log cuts nothing: it reads up to the tail, which may be a write in
// progress.
func (l *Log) TornTail() (TornTail, bool) { return l.torn, l.torn.Bytes > 0 }

// Open opens (creating if needed) the log in dir, calls fn for every valid
// record in log order (payload is only valid during the call), drops a torn
// tail, and returns the log ready for appends. Damage anywhere else is a
// *CorruptError and the log is not opened.
func Open(dir string, opts Options, fn func(pos Pos, payload []byte) error) (*Log, error) {
	if dir == "" {
		// Not the current directory: an unset setting, which would say
		// "mkdir : no such file or directory".
		return nil, errors.New("wal: no directory given")
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = defaultSegmentSize
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.sync == nil {
		opts.sync = syncFile
	}
	if opts.ReadOnly {
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, err
		}
		if err := isDir(dir, fi); err != nil {
			return nil, err
		}
		l := &Log{dir: dir, opts: opts, readers: map[uint64]*segReader{}}
		if err := l.recover(fn); err != nil {
			l.Close()
			return nil, err
		}
		if l.instance, err = readInstance(dir); err != nil && !errors.Is(err, ErrInstance) {
			l.Close()
			return nil, err
		}
		return l, nil
	}
	if err := mkdirDurable(dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, opts: opts, lock: lock, readers: map[uint64]*segReader{}}
	records := 0
	if err := l.recover(func(pos Pos, payload []byte) error {
		records++
		if fn == nil {
			return nil
		}
		return fn(pos, payload)
	}); err != nil {
		l.Close()
		return nil, err
	}
	if l.instance, err = makeInstance(dir, records == 0, opts.sync); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.openSynced(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) segPath(seg uint64) string { return SegmentPath(l.dir, seg) }

// SegmentPath returns the path of segment seg of the log in dir.
func SegmentPath(dir string, seg uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x.seg", seg))
}

func (l *Log) recover(fn func(Pos, []byte) error) error {
	if !l.opts.ReadOnly {
		// A compaction that committed finishes now; one that did not is
		// undone (compact.go).
		if err := finishSwap(l.dir, l.opts.Hook); err != nil {
			return err
		}
	}
	segs, err := l.openSegments()
	if err != nil {
		return err
	}
	// written: for a read-only log, the segments that held more than a
	// header when listed, before the mark is read (staleMark).
	var written []bool
	if l.opts.ReadOnly {
		if written, err = segmentsWritten(segs); err != nil {
			return err
		}
	}
	// Read once the segments are listed (and, read-only, opened): what
	// it names was synced before.
	mark, marked, err := readSynced(l.dir)
	if err != nil {
		return err
	}
	if marked {
		var last uint64
		if len(segs) > 0 {
			last = segs[len(segs)-1].n
		}
		if err := l.missingNewest(mark, last); err != nil && (!l.opts.ReadOnly || goneStill(l.dir, mark)) {
			return err
		}
	}
	if len(segs) == 0 {
		if l.opts.ReadOnly {
			return nil
		}
		return l.createSegment(1)
	}
	l.first.Store(segs[0].n)
	// cut: where a read-only log stops showing records (synced.go): the
	// end of what the writer had synced, in this boot, of a segment it
	// holds; the segments after it hold nothing synced.
	cut := int64(-1)
	if l.opts.ReadOnly && marked && mark.boot != "" && mark.boot == bootID {
		for i, sf := range segs {
			if sf.n == mark.pos.Segment {
				if !staleMark(written[i+1:]) {
					segs, cut = segs[:i+1], mark.pos.Offset
				}
				break
			}
		}
	}
	// The segment a writer appends to: the last, but in a read-only log
	// the one before a last that holds nothing, if there is one.
	tail := len(segs) - 1
	if l.opts.ReadOnly && tail > 0 && cut < 0 {
		nothing, err := holdsNothing(segs[tail])
		if err != nil {
			return err
		}
		if nothing {
			// A rotation a crash cut short left it, and a writer
			// restarted meanwhile removes it and appends to the segment
			// before (below): that one's tail may be a write under way,
			// skipped as in a last segment, not damage.
			tail--
		}
	}
	var prevEnd int64 // where the segment before ends
	for i, sf := range segs {
		seg, path := sf.n, sf.path
		if i > 0 && seg != segs[i-1].n+1 {
			return &CorruptError{Segment: l.segPath(segs[i-1].n + 1), Reason: "missing segment"}
		}
		if sf.f == nil {
			if err := l.openSegment(&segs[i]); err != nil {
				return err
			}
		}
		data, err := readFile(segs[i].f)
		if err != nil {
			return err
		}
		if i == tail && cut >= 0 && int64(len(data)) > cut {
			data = data[:cut] // written, not yet synced: not shown
		}
		last := i >= tail
		res, err := scanSegment(path, seg, data, last, fn)
		if err != nil {
			return err
		}
		if !last || l.opts.ReadOnly {
			// A read-only log cuts nothing, but shows no log that lost
			// synced records as whole: the operator reading it beside a
			// server, or before restarting one, learns of the damage the
			// writer's next Open refuses (unless the writer moved on
			// meanwhile: then what was read was a change under way).
			if last && marked {
				if err := lostSynced(mark, seg, path, res.end); err != nil && markStill(l.dir, mark) {
					return err
				}
			}
			prevEnd = res.end
			continue
		}
		if marked {
			if err := lostSynced(mark, seg, path, res.end); err != nil {
				return err
			}
		}
		if res.end == 0 {
			// The segment never got its header (a crash, or a full disk,
			// while a new segment was made): it holds nothing, and goes.
			// What it held is said, as a torn tail's bytes are: zeros
			// past a header's size may be records whose data never
			// reached the disk, though the file's size did.
			if len(data) > 0 {
				l.torn = TornTail{Segment: path, Bytes: int64(len(data))}
			}
			l.dropReader(seg)
			if err := os.Remove(path); err != nil {
				return err
			}
			if i == 0 {
				return l.createSegment(seg)
			}
			// Appends go on in the segment before, whole and synced: making
			// this one again would need room on a disk that may have none,
			// and a store that cannot open cannot be read or compacted by
			// its owner. The next append that needs it makes it.
			if err := atomicfile.SyncDir(l.dir); err != nil {
				return err
			}
			seg, path, res = segs[i-1].n, segs[i-1].path, scanResult{end: prevEnd}
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if res.torn {
			// Cut the torn tail so that later appends follow the last valid
			// record, and make the cut durable before anything is appended.
			if err := f.Truncate(res.end); err != nil {
				f.Close()
				return err
			}
			if err := l.opts.sync(f); err != nil {
				f.Close()
				return err
			}
			l.torn = TornTail{Segment: path, Offset: res.end, Bytes: int64(len(data)) - res.end}
		}
		l.seg, l.f, l.size = seg, f, res.end
		l.activeSeg.Store(seg)
	}
	return nil
}

// openSegments lists the segments. A read-only log opens each for
// reading now, and keeps them open as its readers, so that what was
// scanned is what ReadAt reads, even if a compaction in another process
// replaces the files under it; it retries until it opened one consistent
// set: a swap that went on while it opened the files shows when they are
// compared with the directory afterwards. A log open for writing opens
// each as its scan comes to it (openSegment), keeping maxReaders of them.
func (l *Log) openSegments() ([]segFile, error) {
	if !l.opts.ReadOnly {
		return listSegments(l.dir, false)
	}
	for try := 0; ; try++ {
		segs, err := listSegments(l.dir, true)
		if err == nil {
			err = l.openAll(segs)
		}
		if err == nil && sameSegments(l.dir, segs) {
			return segs, nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if try == 100 {
			// The last error says which file could not be opened: a
			// symbolic link to nothing looks like a segment a swap
			// removed, every time.
			if err != nil {
				return nil, fmt.Errorf("wal: the segments of %s kept changing while they were opened: %w", l.dir, err)
			}
			return nil, fmt.Errorf("wal: the segments of %s kept changing while they were opened", l.dir)
		}
		l.closeReaders(false)
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *Log) openAll(segs []segFile) error {
	for i := range segs {
		if err := l.openSegment(&segs[i]); err != nil {
			return err
		}
	}
	return nil
}

// openSegment opens sf for reading, as one of the log's readers. Never an
// open that waits (a named pipe in a segment's place would hang Open, and
// a CLI verb reading the store, for good).
func (l *Log) openSegment(sf *segFile) error {
	f, err := regfile.Open(sf.path)
	if err != nil {
		return err
	}
	sf.f = f
	l.hold(sf.n, f)
	return nil
}

// holdsNothing reports whether sf, opened, holds no record: what
// scanSegment takes, as a last segment, for one whose creation a crash
// cut short (empty, part of a header, or zeros).
func holdsNothing(sf segFile) (bool, error) {
	st, err := sf.f.Stat()
	if err != nil {
		return false, err
	}
	if st.Size() >= segHeaderSize {
		var h [segHeaderSize]byte
		if _, err := sf.f.ReadAt(h[:], 0); err != nil {
			return false, err
		}
		if !allZero(h[:]) {
			return false, nil // a whole header, or damage: read as it is
		}
	}
	data, err := readFile(sf.f)
	if err != nil {
		return false, err
	}
	res, err := scanSegment(sf.path, sf.n, data, true, nil)
	return err == nil && res.end == 0, nil
}

// readFile reads the whole of f.
func readFile(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, st.Size())
	n, err := f.ReadAt(data, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return data[:n], nil
}

// createSegment creates segment seg with its header, syncs it, then syncs the
// directory so that the new file itself survives a crash.
func (l *Log) createSegment(seg uint64) error {
	path := l.segPath(seg)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	if _, err := f.Write(segmentHeader()); err != nil {
		f.Close()
		return err
	}
	if err := l.opts.sync(f); err != nil {
		f.Close()
		return err
	}
	if err := atomicfile.SyncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	// Before a compaction may take the segment before for sealed
	// (activeSeg): a mark naming that one would be read against its
	// rewritten records.
	if err := l.markSynced(Pos{Segment: seg, Offset: segHeaderSize}); err != nil {
		f.Close()
		return err
	}
	if l.f != nil {
		l.f.Close()
	}
	l.seg, l.f, l.size = seg, f, segHeaderSize
	l.activeSeg.Store(seg)
	if l.first.Load() == 0 {
		l.first.Store(seg)
	}
	return nil
}

// An Applier learns where its records are once they are durable. The
// goroutine that commits a batch calls Applied for each of its records (i:
// the record's index in AppendAll's payloads; 0 for Append), in the log's
// order, one call at a time across every writer and batch, before the
// Append that wrote the record returns, and not at all if the write
// failed. An index applied there takes the records in the order the log
// holds them, the order Open's replay gives: the writers of one group
// commit wake, and would apply them, in any order. Applied must be quick
// (the next commit waits for it) and must not write to the log.
type Applier interface {
	Applied(i int, pos Pos)
}

// applied is a record's Applier, with what it is told.
type applied struct {
	a   Applier
	i   int
	off int64 // the record's offset in its batch
}

// Append writes payload as one record and returns once it is durable (or the
// log failed). Concurrent Appends share writes and syncs.
func (l *Log) Append(payload []byte) (Pos, error) { return l.AppendApply(payload, nil) }

// AppendApply is Append, telling a, if not nil, the record's position
// before it returns (Applier).
func (l *Log) AppendApply(payload []byte, a Applier) (Pos, error) {
	if err := checkRecord(payload); err != nil {
		return Pos{}, err
	}
	if err := l.lockWritable(); err != nil {
		return Pos{}, err
	}
	l.active.Add(1)
	defer l.active.Done()
	b, off := l.add(payload, a, 0)
	if err := l.await(b); err != nil {
		return Pos{}, err
	}
	return Pos{Segment: b.pos.Segment, Offset: b.pos.Offset + off}, nil
}

// AppendAll writes payloads as consecutive records, in order, and returns
// their positions once all are durable (or the log failed): one turn in the
// group commit for the lot (or one per full batch, past MaxBatch records
// or 8 MiB), where Appends from one goroutine would wait for a sync each,
// and Appends from several would not keep their order.
func (l *Log) AppendAll(payloads [][]byte) ([]Pos, error) { return l.AppendAllApply(payloads, nil) }

// AppendAllApply is AppendAll, telling a, if not nil, each record's
// position before it returns (Applier).
func (l *Log) AppendAllApply(payloads [][]byte, a Applier) ([]Pos, error) {
	for _, p := range payloads {
		if err := checkRecord(p); err != nil {
			return nil, err
		}
	}
	if len(payloads) == 0 {
		return nil, nil
	}
	if err := l.lockWritable(); err != nil {
		return nil, err
	}
	l.active.Add(1)
	defer l.active.Done()
	batches := make([]*batch, len(payloads))
	offs := make([]int64, len(payloads))
	for i, p := range payloads {
		batches[i], offs[i] = l.add(p, a, i)
	}
	// The records fill batches in queue order, each committed after the one
	// before: wait for each in turn (a batch's waiters, ours or another
	// writer's, take its lead when it comes).
	err := l.await(batches[0])
	for i := 1; i < len(batches) && err == nil; i++ {
		if batches[i] != batches[i-1] {
			err = l.wait(batches[i])
		}
	}
	if err != nil {
		return nil, err
	}
	pos := make([]Pos, len(payloads))
	for i, b := range batches {
		pos[i] = Pos{Segment: b.pos.Segment, Offset: b.pos.Offset + offs[i]}
	}
	return pos, nil
}

func checkRecord(payload []byte) error {
	if len(payload) == 0 {
		return errors.New("wal: empty record")
	}
	if len(payload) > MaxRecord {
		return fmt.Errorf("wal: record of %d bytes exceeds %d", len(payload), MaxRecord)
	}
	return nil
}

// add queues payload as a record of the last batch, or of a new one when
// that one is full or sealed, and returns the batch and the record's offset
// in it; a, if not nil, is told where it is as record i. l.mu is held.
func (l *Log) add(payload []byte, a Applier, i int) (*batch, int64) {
	var b *batch
	if n := len(l.queue); n > 0 {
		b = l.queue[n-1]
		if b.n >= l.opts.MaxBatch || b.seal || len(b.buf)+len(payload) > maxBatchBytes {
			b = nil
		}
	}
	if b == nil {
		b = &batch{done: make(chan struct{}), lead: make(chan struct{}, 1), applied: make(chan struct{})}
		if l.opts.MaxWait > 0 {
			b.full = make(chan struct{})
		}
		l.enqueue(b)
	}
	off := int64(len(b.buf))
	b.buf = appendRecord(b.buf, payload)
	b.n++
	if a != nil {
		b.tell = append(b.tell, applied{a: a, i: i, off: off})
	}
	if b.n == l.opts.MaxBatch {
		b.closeFull()
	}
	return b, off
}

// enqueue queues b behind the last batch, which no record can join any
// more. l.mu is held.
func (l *Log) enqueue(b *batch) {
	if n := len(l.queue); n > 0 {
		l.queue[n-1].closeFull()
	}
	l.queue = append(l.queue, b)
}

// Seal starts a new segment, unless the active one holds no record yet, so
// that every record appended before is in a sealed segment, which a
// compaction may rewrite (flowgen compact compacts everything). It takes
// its turn in the group commit like an Append.
func (l *Log) Seal() error {
	if err := l.lockWritable(); err != nil {
		return err
	}
	l.active.Add(1)
	defer l.active.Done()
	b := &batch{seal: true, done: make(chan struct{}), lead: make(chan struct{}, 1), applied: make(chan struct{})}
	l.enqueue(b)
	return l.await(b)
}

// setFailed records the log's first failure, cause, and tells
// Options.OnFail of it; the caller holds l.mu.
func (l *Log) setFailed(cause error) {
	if l.failed != nil {
		return
	}
	l.failed = &failedError{cause: cause}
	if l.opts.OnFail != nil {
		// Not under l.mu, which the failing Append holds: OnFail may
		// stop the service that closes the log. Close waits for it, so
		// that nothing of the log goes on once Close returns.
		told, failed := make(chan struct{}), l.failed
		l.told = told
		go func() {
			defer close(told)
			l.opts.OnFail(failed)
		}()
	}
}

// lockWritable takes l.mu for a write (an Append or a Seal), or refuses it
// with the mutex released: a read-only, closed or failed log takes none.
func (l *Log) lockWritable() error {
	if l.opts.ReadOnly {
		return ErrReadOnly
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		return err
	}
	return nil
}

// await is a write's turn in the group commit, b its batch, queued; the
// caller holds l.mu, which await releases. With no commit in flight the
// writer leads one now; else the commit before hands it the lead when
// done. It returns once b is written and synced, or failed.
func (l *Log) await(b *batch) error {
	leader := !l.syncing
	if leader {
		// No commit in flight, so the queue held nothing before: b is queue[0].
		l.syncing = true
	}
	l.mu.Unlock()
	if leader {
		l.commit(b)
	}
	return l.wait(b)
}

// wait returns once b, queued, is written and synced, or failed; it
// commits b when the commit before hands it the lead.
func (l *Log) wait(b *batch) error {
	for {
		select {
		case <-b.done:
			return b.err
		case <-b.lead:
			l.commit(b)
		}
	}
}

// commit writes and syncs b (which is queue[0]) and hands leadership to the
// next queued batch, if any.
func (l *Log) commit(b *batch) {
	if b.full != nil {
		t := time.NewTimer(l.opts.MaxWait)
		select {
		case <-b.full:
		case <-t.C:
		}
		t.Stop()
	}
	l.mu.Lock()
	l.queue = l.queue[1:] // seal b: later records start a new batch
	prev := l.applying
	l.applying = b
	l.mu.Unlock()

	err := l.write(b)

	l.mu.Lock()
	if err != nil {
		l.setFailed(err)
	}
	if l.failed != nil {
		b.err = l.failed
		close(b.applied)
		close(b.done)
		for _, q := range l.queue {
			q.err = l.failed
			close(q.done)
		}
		l.queue = nil
		l.syncing = false
		l.mu.Unlock()
		return
	}
	// The next batch writes and syncs while b's records are applied.
	if len(l.queue) > 0 {
		l.queue[0].lead <- struct{}{}
	} else {
		l.syncing = false
	}
	l.mu.Unlock()
	// b's Appliers are told after those of the batch before, and before
	// b's writers wake: the log's order (Applier).
	if prev != nil {
		<-prev.applied
	}
	for _, t := range b.tell {
		t.a.Applied(t.i, Pos{Segment: b.pos.Segment, Offset: b.pos.Offset + t.off})
	}
	close(b.applied)
	close(b.done)
}

func (l *Log) hook(point string) {
	if l.opts.Hook != nil {
		l.opts.Hook(point)
	}
}

func (l *Log) write(b *batch) error {
	if b.seal {
		if l.size > segHeaderSize {
			return l.createSegment(l.seg + 1)
		}
		return nil
	}
	if l.size > segHeaderSize && l.size+int64(len(b.buf)) > l.opts.SegmentSize {
		if err := l.createSegment(l.seg + 1); err != nil {
			return err
		}
	}
	b.pos = Pos{Segment: l.seg, Offset: l.size}
	l.hook("before-write")
	n, err := l.f.WriteAt(b.buf, l.size)
	l.size += int64(n)
	if err != nil {
		return err
	}
	l.hook("after-write-before-sync")
	var began time.Time
	if l.opts.Committed != nil {
		began = time.Now()
	}
	if err := l.opts.sync(l.f); err != nil {
		return err
	}
	if l.opts.Committed != nil {
		l.opts.Committed(b.n, time.Since(began))
	}
	if err := l.markSynced(Pos{Segment: l.seg, Offset: l.size}); err != nil {
		return err
	}
	l.hook("after-sync-before-ack")
	return nil
}

// ReadAt returns a copy of the payload of the record at pos, verified
// against its checksums.
func (l *Log) ReadAt(pos Pos) ([]byte, error) {
	r, err := l.reader(pos.Segment)
	if err != nil {
		return nil, err
	}
	defer l.release(r)
	var h [recHeaderSize]byte
	if _, err := r.f.ReadAt(h[:], pos.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, l.cutSince(pos)
		}
		return nil, fmt.Errorf("wal: read %v: %w", pos, err)
	}
	rec, err := readRecord(r.f, h, pos.Offset)
	if errors.Is(err, io.EOF) {
		return nil, l.cutSince(pos)
	}
	if err != nil {
		return nil, &CorruptError{Segment: l.segPath(pos.Segment), Offset: pos.Offset, Reason: err.Error()}
	}
	return rec, nil
}

// cutSince is ReadAt's error for a record whose segment ends before the
// record does: Open read it whole, so the file was cut since, and not by
// this process, which never cuts a segment once open.
func (l *Log) cutSince(pos Pos) error {
	return &CorruptError{Segment: l.segPath(pos.Segment), Offset: pos.Offset,
		Reason: "the segment ends before this record's end: the file was cut since the log was opened"}
}

func readRecord(f *os.File, h [recHeaderSize]byte, off int64) ([]byte, error) {
	if le32(h[8:12]) != checksum(h[:8]) {
		return nil, errors.New("bad record header checksum")
	}
	n := le32(h[0:4])
	if n == 0 || n > MaxRecord {
		return nil, fmt.Errorf("bad record length %d", n)
	}
	p := make([]byte, n)
	if _, err := f.ReadAt(p, off+recHeaderSize); err != nil {
		return nil, err
	}
	if le32(h[4:8]) != checksum(p) {
		return nil, errors.New("bad record checksum")
	}
	return p, nil
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Close waits for Appends in progress, then releases the files. Appends
// after Close fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.active.Wait()
	// No Append is left to fail: OnFail, if told, has been called, and
	// returns before Close does.
	l.mu.Lock()
	told := l.told
	l.mu.Unlock()
	if told != nil {
		<-told
	}

	var errs []error
	if l.f != nil {
		errs = append(errs, l.f.Close())
	}
	if l.synced != nil {
		errs = append(errs, l.synced.Close())
	}
	errs = append(errs, l.closeReaders(true))
	if l.lock != nil {
		errs = append(errs, unlockDir(l.lock))
	}
	return errors.Join(errs...)
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// SegmentPath returns the file path of segment seg.
func (l *Log) SegmentPath(seg uint64) string { return l.segPath(seg) }
