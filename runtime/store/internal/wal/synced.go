package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/flowgen/flowgen/internal/regfile"
)

// The SYNCED file says how far the log is synced: the end of the last
// group commit synced (or of the header of the segment made last), and
// the boot of the system that wrote it. The writer rewrites it after each
// sync, before the appenders are acknowledged, and at Open; it is never
// synced itself (that would double the cost of a commit), so it may lag
// what is synced after a crash of the system, never lead it: it is
// written only once what it names is durable.
//
//   - A read-only log (the CLI beside a running server) shows no record
//     past it, when it was written in this boot: a group commit written
//     and not yet synced (not acknowledged; it is gone if the sync fails
//     or the power goes) is not shown. Written in another boot, the page
//     cache it stood for is gone, and the files are what is durable.
//   - Open, read-only too, refuses a log whose newest segment is gone: a
//     SYNCED naming a segment past the last one is a missing segment
//     (the segments before the last are contiguous; only the newest
//     could go unnoticed); and one whose last segment's records end
//     before the offset SYNCED names in it (lostSynced).
//
// A log without the file (written by an earlier flowgen), or with one
// that does not hold a whole mark, is read as before: every whole record.
const syncedName = "SYNCED"

const (
	syncedMagic = "FLOWGSYN"
	bootSize    = 36 // a boot ID: a UUID's text
	syncedSize  = 8 + 8 + 8 + bootSize + 4
)

// bootID is this boot of the system (Linux: /proc/sys/kernel/random/boot_id),
// or "" where there is none: a mark written then limits no reader.
var bootID = func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	b = bytes.TrimSpace(b)
	if len(b) > bootSize {
		b = b[:bootSize]
	}
	return string(b)
}()

// syncMark is what SYNCED holds.
type syncMark struct {
	pos  Pos // the end of what is synced
	boot string
}

// encodeSynced is the file's content for pos in this boot.
func encodeSynced(pos Pos) []byte {
	b := make([]byte, syncedSize)
	copy(b, syncedMagic)
	binary.LittleEndian.PutUint64(b[8:16], pos.Segment)
	binary.LittleEndian.PutUint64(b[16:24], uint64(pos.Offset))
	copy(b[24:24+bootSize], bootID)
	binary.LittleEndian.PutUint32(b[24+bootSize:], checksum(b[:24+bootSize]))
	return b
}

// readSynced reads dir's SYNCED: ok false if there is none or it holds no
// whole mark (torn by a crash of the system, or damaged: a hint lost, not
// a record). A file in its place that is not a regular one is an error,
// as for the other files of the log.
func readSynced(dir string) (m syncMark, ok bool, err error) {
	f, err := regfile.Open(filepath.Join(dir, syncedName))
	if errors.Is(err, os.ErrNotExist) {
		return syncMark{}, false, nil
	}
	if err != nil {
		return syncMark{}, false, err
	}
	defer f.Close()
	b := make([]byte, syncedSize)
	if _, err := io.ReadFull(f, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return syncMark{}, false, nil
		}
		return syncMark{}, false, err
	}
	if string(b[:8]) != syncedMagic || binary.LittleEndian.Uint32(b[24+bootSize:]) != checksum(b[:24+bootSize]) {
		return syncMark{}, false, nil
	}
	m.pos = Pos{Segment: binary.LittleEndian.Uint64(b[8:16]), Offset: int64(binary.LittleEndian.Uint64(b[16:24]))}
	m.boot = string(bytes.TrimRight(b[24:24+bootSize], "\x00"))
	return m, true, nil
}

// missingNewest is Open's error when m, a mark, names a segment past last,
// the log's newest: records were synced in a segment that is gone.
func (l *Log) missingNewest(m syncMark, last uint64) error {
	if m.pos.Segment <= last {
		return nil
	}
	ends := fmt.Sprintf("the log ends at segment %d", last)
	if last == 0 {
		ends = "the log holds no segment"
	}
	return &CorruptError{Segment: l.segPath(last + 1), Reason: fmt.Sprintf("missing segment: %s says the log was synced up to segment %d, and %s", syncedName, m.pos.Segment, ends)}
}

// lostSynced is Open's error when the last segment, seg at path, whose
// records end at end, ends before mark, which names it: what the mark
// covers was synced (the writer writes it only after the sync, in any
// boot), acknowledged, and cannot be an interrupted final write, so a
// bad or missing tail there is damage (a segment cut by hand), never
// cut as a torn tail. A mark naming an earlier segment claims nothing of
// this one.
func lostSynced(mark syncMark, seg uint64, path string, end int64) error {
	if mark.pos.Segment != seg || end >= mark.pos.Offset {
		return nil
	}
	return &CorruptError{Segment: path, Offset: end, Reason: fmt.Sprintf("the segment's records end here, before offset %d, up to which %s says it was synced: records that were durable are missing", mark.pos.Offset, syncedName)}
}

// goneStill reports, for a read-only log whose last segment listed is
// before the one mark names, whether that segment is gone: not there now,
// and the mark unchanged. A writer that went on to a new segment since
// the listing made it first, and a compaction removes only segments
// before the one the mark names.
func goneStill(dir string, mark syncMark) bool {
	if _, err := os.Lstat(SegmentPath(dir, mark.pos.Segment)); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	return markStill(dir, mark)
}

// markStill reports, for a read-only log, whether dir's SYNCED still
// holds mark: the writer has not moved on since it was read. While it
// names a segment, that segment holds at least what it names (the writer
// cuts nothing synced, and a compaction rewrites only segments before the
// one the mark names), so a read-only log that read less there read
// damage, not a change under way.
func markStill(dir string, mark syncMark) bool {
	again, ok, err := readSynced(dir)
	return err == nil && ok && again == mark
}

// openSynced opens SYNCED for the writer and marks the log's end, once
// recovered. With no room on the disk to write it, the old file is
// removed, so that no reader takes a mark from before for the log's end,
// and the log keeps none until the next Open (a full disk keeps no log
// from opening; its writes fail anyway).
func (l *Log) openSynced() error {
	path := filepath.Join(l.dir, syncedName)
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("wal: %s is not a regular file", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NONBLOCK, filePerm)
	if err != nil {
		return err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("wal: %s is not a regular file", path)
		}
		return err
	}
	// The tail recovered may be a commit a killed writer wrote and never
	// synced, which this one takes for part of the log: synced first, so
	// that the mark does not lead what is durable.
	if err := l.opts.sync(l.f); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteAt(encodeSynced(Pos{Segment: l.seg, Offset: l.size}), 0); err != nil {
		f.Close()
		if noRoom(err) {
			return os.Remove(path)
		}
		return err
	}
	l.synced = f
	return nil
}

// markSynced records that the log is synced up to pos (the writer's end).
// It is written once what it names is durable, so a mark that cannot be
// written fails no commit (an error would say the commit changed
// nothing): it is dropped (dropSynced), and the log keeps none until the
// next Open. The error is only a mark that could not be dropped either.
func (l *Log) markSynced(pos Pos) error {
	if l.synced == nil {
		return nil
	}
	if _, err := l.synced.WriteAt(encodeSynced(pos), 0); err != nil {
		return l.dropSynced(err)
	}
	return nil
}

// dropSynced leaves SYNCED holding no mark, cut to nothing or removed, so
// that a mark from before does not hide the records synced after it from
// a reader; cause, why, if it can do neither.
func (l *Log) dropSynced(cause error) error {
	f := l.synced
	l.synced = nil
	terr := f.Truncate(0)
	f.Close()
	if terr == nil {
		return nil
	}
	if err := os.Remove(filepath.Join(l.dir, syncedName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return cause
	}
	return nil
}

// segmentsWritten reports, for each segment of segs, whether it held more
// than its header.
func segmentsWritten(segs []segFile) ([]bool, error) {
	written := make([]bool, len(segs))
	for i, sf := range segs {
		st, err := sf.f.Stat()
		if err != nil {
			return nil, err
		}
		written[i] = st.Size() > segHeaderSize
	}
	return written, nil
}

// staleMark reports whether a mark is stale, given whether each segment
// after the one it names held records when the log was listed, before the
// mark was read. A writer of this version marks a segment before it
// appends to it (createSegment), and a mark only moves on, so a later
// segment with records under a mark read after it was listed was written
// by a writer that does not keep SYNCED (an earlier flowgen): the mark
// says nothing of what is synced, and the log is read as with no mark.
func staleMark(later []bool) bool { return slices.Contains(later, true) }
