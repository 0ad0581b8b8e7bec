package wal

import (
	"errors"
	"fmt"
	"os"

	"github.com/flowgen/flowgen/internal/regfile"
)

// maxReaders bounds the segments a log open for writing keeps a read
// descriptor of: the ones read last. A log that is never compacted
// (Retain 0, the default) gains a segment every SegmentSize bytes, so
// one descriptor per segment grew without bound with the log; a segment
// read again after its descriptor went is opened again, by name (this
// process alone changes the names, in a compaction's swap, which holds
// off every read of the segments it moves). A read-only log keeps every
// segment it read open instead (docs/store.md, "File descriptors").
const maxReaders = 16

// segReader is a segment's read descriptor.
type segReader struct {
	seg  uint64
	f    *os.File
	refs int    // reads in progress
	used uint64 // l.clock at its last use
	out  bool   // no longer held by the log: the last read's release closes it
}

// reader returns segment seg's descriptor, opening it if the log holds
// none; release it once read.
func (l *Log) reader(seg uint64) (*segReader, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if l.readers == nil {
		return nil, ErrClosed
	}
	if seg <= l.swapFailed {
		return nil, fmt.Errorf("wal: segment %d is in a compaction's swap that failed (%w): reopen the log to read it", seg, ErrFailed)
	}
	r, ok := l.readers[seg]
	if !ok {
		// Never an open that waits, as at Open.
		f, err := regfile.Open(l.segPath(seg))
		if err != nil {
			return nil, err
		}
		r = l.holdLocked(seg, f)
	}
	l.clock++
	r.used = l.clock
	r.refs++
	return r, nil
}

// release ends a read of r.
func (l *Log) release(r *segReader) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	r.refs--
	if r.out && r.refs == 0 {
		r.f.Close()
	}
}

// hold keeps f as segment seg's descriptor (Open's scan).
func (l *Log) hold(seg uint64, f *os.File) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	l.holdLocked(seg, f)
}

// holdLocked keeps f as segment seg's descriptor and, in a log open for
// writing, lets go of the one used least recently past maxReaders. l.rmu
// is held.
func (l *Log) holdLocked(seg uint64, f *os.File) *segReader {
	l.clock++
	r := &segReader{seg: seg, f: f, used: l.clock}
	l.readers[seg] = r
	if !l.opts.ReadOnly && len(l.readers) > maxReaders {
		var lru *segReader
		for _, o := range l.readers {
			if lru == nil || o.used < lru.used {
				lru = o
			}
		}
		l.dropLocked(lru.seg)
	}
	return r
}

// dropReader lets go of segment seg's descriptor, if the log holds one:
// closed now, or by the release of the last read in progress.
func (l *Log) dropReader(seg uint64) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	l.dropLocked(seg)
}

func (l *Log) dropLocked(seg uint64) {
	r, ok := l.readers[seg]
	if !ok {
		return
	}
	delete(l.readers, seg)
	r.out = true
	if r.refs == 0 {
		r.f.Close()
	}
}

// closeReaders lets go of every descriptor; with closed, reads fail with
// ErrClosed from then on. It returns the errors of the closes it did.
func (l *Log) closeReaders(closed bool) error {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	var errs []error
	for seg, r := range l.readers {
		delete(l.readers, seg)
		r.out = true
		if r.refs == 0 {
			errs = append(errs, r.f.Close())
		}
	}
	if closed {
		l.readers = nil
	}
	return errors.Join(errs...)
}
