package wal

// Compaction: the sealed segments first..hi are replaced by new segments
// holding the records a caller keeps (Rewrite), and the swap survives a
// crash at any point as either the old set or the new one, whole.
//
// Protocol (the numbers stay contiguous, so Open's "missing segment" check
// still holds):
//
//  1. The kept records are written to compact.0, compact.1, ... (m files,
//     at most as many as the segments they replace), each synced, then the
//     directory is synced. Nothing the log reads has changed.
//  2. The manifest COMPACT (lo, hi, m, checksum) is written to COMPACT.tmp,
//     synced, renamed to COMPACT, and the directory synced. This is the
//     commit point: from here the new set is the log.
//  3. Segments lo .. hi-m are removed, and compact.j is renamed over segment
//     hi-m+1+j (replacing the old one in one step); the directory is synced.
//  4. COMPACT is removed and the directory synced.
//
// Open (for writing) first finishes what a crash interrupted: with a
// COMPACT it redoes step 3, which is idempotent (a compact.j that is gone
// was renamed already, so its segment is new; one that is there replaces
// its segment), then step 4; without one it removes compact.* and
// COMPACT.tmp, leftovers of a compaction that never committed. A read-only
// open changes nothing and reads the new set as step 3 would leave it.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/internal/atomicfile"
	"github.com/flowgen/flowgen/internal/regfile"
)

const (
	manifestName  = "COMPACT"
	compactPrefix = "compact."
	manifestMagic = "FLOWGCMP"
	manifestSize  = 8 + 3*8 + 4
)

// manifest says that segments lo..hi are replaced by the m files
// compact.0..compact.(m-1), which become segments hi-m+1..hi.
type manifest struct{ lo, hi, m uint64 }

func (m manifest) base() uint64 { return m.hi - m.m + 1 }

func (m manifest) encode() []byte {
	b := make([]byte, 0, manifestSize)
	b = append(b, manifestMagic...)
	b = binary.LittleEndian.AppendUint64(b, m.lo)
	b = binary.LittleEndian.AppendUint64(b, m.hi)
	b = binary.LittleEndian.AppendUint64(b, m.m)
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

// readManifest returns the manifest in dir, if there is one. It is written
// whole by a rename, so a bad one is damage, not a torn write.
func readManifest(dir string) (manifest, bool, error) {
	path := filepath.Join(dir, manifestName)
	b, _, err := regfile.Read(path, manifestSize) // never waiting, as for a segment
	if errors.Is(err, os.ErrNotExist) {
		return manifest{}, false, nil
	}
	if err != nil {
		return manifest{}, false, err
	}
	if len(b) != manifestSize || string(b[:8]) != manifestMagic || binary.LittleEndian.Uint32(b[32:]) != checksum(b[:32]) {
		return manifest{}, false, &CorruptError{Segment: path, Reason: "bad compaction manifest"}
	}
	m := manifest{lo: binary.LittleEndian.Uint64(b[8:]), hi: binary.LittleEndian.Uint64(b[16:]), m: binary.LittleEndian.Uint64(b[24:])}
	if m.lo == 0 || m.lo > m.hi || m.m > m.hi-m.lo+1 {
		return manifest{}, false, &CorruptError{Segment: path, Reason: fmt.Sprintf("compaction manifest out of range: %d..%d into %d", m.lo, m.hi, m.m)}
	}
	return m, true, nil
}

func compactPath(dir string, j uint64) string {
	return filepath.Join(dir, compactPrefix+strconv.FormatUint(j, 10))
}

// segFile is one segment of the log: its number and the file that holds it
// (a compact.j while a swap is not finished, for a read-only log).
type segFile struct {
	n    uint64
	path string
	f    *os.File // set by openSegments
}

// Exists reports whether dir holds a log: a segment file. A directory
// that is missing, empty or holds other files holds none.
func Exists(dir string) (bool, error) {
	segs, err := listSegments(dir, false)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return len(segs) > 0, err
}

// listSegments lists the log's segments in order. A read-only log applies
// an unfinished swap's manifest to what it lists, as Open would.
func listSegments(dir string, readOnly bool) ([]segFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segFile
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || len(name) != 16 {
			continue
		}
		n, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, segFile{n: n, path: SegmentPath(dir, n)})
	}
	if readOnly {
		m, ok, err := readManifest(dir)
		if err != nil {
			return nil, err
		}
		if ok {
			byN := map[uint64]string{}
			for _, s := range segs {
				if s.n < m.lo || s.n >= m.base() {
					byN[s.n] = s.path
				}
			}
			for j := range m.m {
				if p := compactPath(dir, j); exists(p) {
					byN[m.base()+j] = p
				}
			}
			segs = segs[:0]
			for n, p := range byN {
				segs = append(segs, segFile{n: n, path: p})
			}
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
	return segs, nil
}

// sameSegments reports whether dir still lists segs, each the very file
// that was opened: no swap happened while they were opened.
func sameSegments(dir string, segs []segFile) bool {
	now, err := listSegments(dir, true)
	if err != nil || len(now) != len(segs) {
		return false
	}
	for i := range segs {
		if now[i].n != segs[i].n || now[i].path != segs[i].path {
			return false
		}
		a, err1 := segs[i].f.Stat()
		b, err2 := os.Stat(now[i].path)
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			return false
		}
	}
	return true
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// finishSwap completes a committed compaction in dir (steps 3 and 4) or
// removes the files of one that never committed.
func finishSwap(dir string, hook func(string)) error {
	m, ok, err := readManifest(dir)
	if err != nil {
		return err
	}
	if !ok {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		removed := false
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), compactPrefix) || e.Name() == manifestName+".tmp" {
				if err := removeIfExists(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
				removed = true
			}
		}
		if removed {
			return atomicfile.SyncDir(dir)
		}
		return nil
	}
	call := func(point string) {
		if hook != nil {
			hook(point)
		}
	}
	for n := m.lo; n < m.base(); n++ {
		if err := removeIfExists(SegmentPath(dir, n)); err != nil {
			return err
		}
	}
	call("compact-removed")
	for j := range m.m {
		p := compactPath(dir, j)
		if !exists(p) {
			continue // renamed before a crash: its segment is the new one
		}
		if err := os.Rename(p, SegmentPath(dir, m.base()+j)); err != nil {
			return err
		}
		call("compact-renamed")
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	call("compact-swapped")
	if err := os.Remove(filepath.Join(dir, manifestName)); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}

// Sealed returns the range of sealed segments, which no append touches
// again: from the oldest to the one before the active segment.
func (l *Log) Sealed() (lo, hi uint64, ok bool) {
	lo, act := l.first.Load(), l.activeSeg.Load()
	if lo == 0 || act <= lo {
		return 0, 0, false
	}
	return lo, act - 1, true
}

// Scan calls fn for every record of the sealed segments lo..hi in order.
// They were synced whole before their successors existed, so any damage
// is a *CorruptError.
func (l *Log) Scan(lo, hi uint64, fn func(pos Pos, payload []byte) error) error {
	for seg := lo; seg <= hi; seg++ {
		r, err := l.reader(seg)
		if err != nil {
			return err
		}
		data, err := readFile(r.f)
		l.release(r)
		if err != nil {
			return err
		}
		if _, err := scanSegment(l.segPath(seg), seg, data, false, fn); err != nil {
			return err
		}
	}
	return nil
}

// RecordSize is the size on disk of a record holding n bytes of payload.
func RecordSize(n int) int64 { return recHeaderSize + int64(n) }

// Rewrite replaces the sealed segments lo..hi by new ones. Add the records
// to keep, in log order; Prepare makes them durable where the log does not
// see them; Commit swaps them in. Abort (or a crash before Commit's
// manifest is durable) leaves the log as it was.
type Rewrite struct {
	l      *Log
	lo, hi uint64
	n      uint64        // new segments begun: compact.0 .. compact.(n-1)
	f      *os.File      // the one being written, nil once sealed: one descriptor, however many
	w      *bufio.Writer // f's
	size   int64         // f's size
	sealed int64         // the size of those sealed
	done   bool
}

// Rewrite starts replacing the sealed segments lo..hi. Only one rewrite
// may be in progress. A failed log refuses it (ErrFailed), as it refuses
// an Append, and so does Commit once the log failed.
func (l *Log) Rewrite(lo, hi uint64) (*Rewrite, error) {
	if l.opts.ReadOnly {
		return nil, ErrReadOnly
	}
	if err := l.failure(); err != nil {
		// What is on disk is no longer what this process knows: a swap
		// whose manifest is durable may wait for the next Open (Commit),
		// whose compact.j files and manifest a rewrite would write over.
		return nil, err
	}
	if slo, shi, ok := l.Sealed(); !ok || lo != slo || hi > shi || lo > hi {
		return nil, fmt.Errorf("wal: rewrite of segments %d..%d: only a prefix of the sealed segments can be rewritten", lo, hi)
	}
	return &Rewrite{l: l, lo: lo, hi: hi}, nil
}

// Add appends a record and returns its position in the new set, valid
// once Commit returns: Final maps it.
func (r *Rewrite) Add(payload []byte) (Pos, error) {
	rec := RecordSize(len(payload))
	// A new file when this one is full, but never more files than the
	// segments replaced: their numbers are the new ones'.
	if r.w == nil || r.size > segHeaderSize && r.size+rec > r.l.opts.SegmentSize && r.n < r.hi-r.lo+1 {
		if err := r.next(); err != nil {
			return Pos{}, err
		}
	}
	pos := Pos{Segment: r.n - 1, Offset: r.size}
	var h [recHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], checksum(payload))
	binary.LittleEndian.PutUint32(h[8:12], checksum(h[0:8]))
	if _, err := r.w.Write(h[:]); err != nil {
		return Pos{}, err
	}
	if _, err := r.w.Write(payload); err != nil {
		return Pos{}, err
	}
	r.size += rec
	return pos, nil
}

func (r *Rewrite) next() error {
	if err := r.seal(); err != nil {
		return err
	}
	// A new file, never one there already (a link would be written
	// through): Open removed the leftovers of a compaction that never
	// committed, so one there now was put there.
	path := compactPath(r.l.dir, r.n)
	if err := removeIfExists(path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	r.f, r.n = f, r.n+1
	r.w = bufio.NewWriterSize(f, 1<<20)
	r.size = segHeaderSize
	_, err = r.w.Write(segmentHeader())
	return err
}

// seal flushes, syncs and closes the file being written.
func (r *Rewrite) seal() error {
	if r.w == nil {
		return nil
	}
	if err := r.w.Flush(); err != nil {
		return err
	}
	r.w = nil
	if err := r.l.opts.sync(r.f); err != nil {
		return err
	}
	f := r.f
	r.f, r.sealed = nil, r.sealed+r.size
	return f.Close()
}

// Final maps a position Add returned to the record's position after Commit.
func (r *Rewrite) Final(p Pos) Pos {
	return Pos{Segment: r.hi - r.n + 1 + p.Segment, Offset: p.Offset}
}

// Size is the size of the new segments.
func (r *Rewrite) Size() int64 {
	if r.f != nil {
		return r.sealed + r.size
	}
	return r.sealed
}

// Prepare makes the new segments durable (step 1). The log is unchanged.
func (r *Rewrite) Prepare() error {
	if err := r.seal(); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(r.l.dir); err != nil {
		return err
	}
	r.l.hook("compact-written")
	return nil
}

// Commit swaps the new segments in (steps 2 to 4). The caller must hold
// off every reader of the segments lo..hi while it runs. An error after
// the manifest is durable leaves the swap to the next Open, and fails the
// log: what is on disk is no longer what this process knows, and ReadAt
// and Scan of lo..hi fail until then.
func (r *Rewrite) Commit() error {
	if r.done {
		return errors.New("wal: rewrite already finished")
	}
	r.done = true
	r.closeFile()
	if err := r.l.failure(); err != nil {
		r.cleanup()
		return err
	}
	dir := r.l.dir
	m := manifest{lo: r.lo, hi: r.hi, m: r.n}
	if err := replaceSynced(dir, manifestName, m.encode(), r.l.opts.sync); err != nil {
		r.cleanup()
		return err
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return r.l.Fail(err)
	}
	r.l.hook("compact-committed")
	// The old files go; a reader of this log reopens the new ones by name.
	for seg := r.lo; seg <= r.hi; seg++ {
		r.l.dropReader(seg)
	}
	if err := finishSwap(dir, r.l.opts.Hook); err != nil {
		// Segments lo..hi are now partly the new set's, at offsets the
		// caller's positions (the old set's: it moves them only once
		// Commit succeeds) do not name: a read there could give one
		// whole record for another. None is read until a reopen
		// finishes the swap.
		err = r.l.Fail(err)
		r.l.rmu.Lock()
		r.l.swapFailed = r.hi
		r.l.rmu.Unlock()
		return err
	}
	if m.m > 0 {
		r.l.first.Store(m.base())
	} else {
		r.l.first.Store(r.hi + 1)
	}
	return nil
}

// Abort removes the new segments; the log is as it was.
func (r *Rewrite) Abort() {
	if r.done {
		return
	}
	r.done = true
	r.cleanup()
}

func (r *Rewrite) cleanup() {
	r.closeFile()
	for j := range r.n {
		os.Remove(compactPath(r.l.dir, j))
	}
	os.Remove(filepath.Join(r.l.dir, manifestName+".tmp"))
}

// closeFile closes the file being written, if one is: Commit without
// Prepare, or Abort.
func (r *Rewrite) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f, r.w = nil, nil
	}
}

// failure is the log's failure (ErrFailed), nil while it has none.
func (l *Log) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// Fail makes every later Append and Rewrite fail, as a failed sync does,
// and returns the error: for a caller that finds its view of the log no
// longer true.
func (l *Log) Fail(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setFailed(err)
	return l.failed
}

// replaceSynced replaces the file name in dir with b: written to
// name+".tmp", synced, then renamed over name, so that a crash leaves the
// old file or the new, never a part. The caller syncs dir, for the rename
// to last (the manifest's caller fails the log if that fails). A .tmp
// that is there already is a leftover of a crash (or was put there): it
// is removed, never written through, so that a symbolic link there cannot
// make the write land in the file it names and the rename put the link in
// name's place. The .tmp goes again if a step fails, the rename too.
func replaceSynced(dir, name string, b []byte, sync func(*os.File) error) error {
	tmp := filepath.Join(dir, name+".tmp")
	err := writeSynced(tmp, b, sync)
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp) // what is left of it, if anything: the error is err
	}
	return err
}

// writeSynced writes b to a new file at path, made with O_EXCL after a
// leftover there is removed (replaceSynced), and syncs it.
func writeSynced(path string, b []byte, sync func(*os.File) error) error {
	if err := removeIfExists(path); err != nil {
		return err
	}
	// O_EXCL fails on whatever is there again, a link included, rather
	// than follow it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := sync(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Size returns the total size of the segment files.
func (l *Log) Size() (int64, error) {
	segs, err := listSegments(l.dir, l.opts.ReadOnly)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range segs {
		st, err := os.Stat(s.path)
		if err != nil {
			return 0, err
		}
		n += st.Size()
	}
	return n, nil
}

// SizeOf returns the total size of the segments lo..hi.
func (l *Log) SizeOf(lo, hi uint64) (int64, error) {
	var n int64
	for seg := lo; seg <= hi; seg++ {
		r, err := l.reader(seg)
		if err != nil {
			return 0, err
		}
		st, err := r.f.Stat()
		l.release(r)
		if err != nil {
			return 0, err
		}
		n += st.Size()
	}
	return n, nil
}
