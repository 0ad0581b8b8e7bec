package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk layout.
//
// A segment file starts with a 16-byte header: the magic "FLOWGLOG", a
// little-endian uint32 format version and the masked CRC32C of those 12 bytes.
//
// Records follow back to back. Each is a 12-byte header and a payload:
//
//	length   uint32  payload length in bytes (> 0)
//	crc      uint32  masked CRC32C of the payload
//	hcrc     uint32  masked CRC32C of the 8 bytes above
//
// The header has its own checksum so that a damaged length is recognised as
// damage instead of being taken for a record that runs past the end of the
// file (which is what a torn write looks like, and is silently dropped).
const (
	segMagic      = "FLOWGLOG"
	segVersion    = 1
	segHeaderSize = 16
	recHeaderSize = 12

	// MaxRecord is the largest payload a record may hold.
	MaxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// mask keeps a CRC stored next to the data it covers from checksumming to a
// fixed point when the data is itself a CRC (the LevelDB trick).
func mask(c uint32) uint32 { return ((c >> 15) | (c << 17)) + 0xa282ead8 }

func checksum(b []byte) uint32 { return mask(crc32.Checksum(b, castagnoli)) }

// appendRecord appends the framed payload p to buf.
func appendRecord(buf, p []byte) []byte {
	var h [recHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(p)))
	binary.LittleEndian.PutUint32(h[4:8], checksum(p))
	binary.LittleEndian.PutUint32(h[8:12], checksum(h[0:8]))
	buf = append(buf, h[:]...)
	return append(buf, p...)
}

func segmentHeader() []byte {
	h := make([]byte, segHeaderSize)
	copy(h, segMagic)
	binary.LittleEndian.PutUint32(h[8:12], segVersion)
	binary.LittleEndian.PutUint32(h[12:16], checksum(h[0:12]))
	return h
}

// ErrCorrupt is matched (errors.Is) by every *CorruptError.
var ErrCorrupt = errors.New("corrupt log")

// CorruptError reports damage that is not a torn tail: a record that fails
// its checksum with data other than zeros after it, a damaged sealed
// segment, or a last segment that ends before its SYNCED mark. The log
// refuses to open rather than truncating acknowledged records.
type CorruptError struct {
	Segment string // segment file path
	Offset  int64  // byte offset of the damaged record (or header) in the segment
	Reason  string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt log: segment %s, offset %d: %s", e.Segment, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// scanResult is what scanning one segment found.
type scanResult struct {
	end  int64 // end of the last valid record (where appends continue)
	torn bool  // bytes after end were dropped as a torn tail
}

// scanSegment validates data (one whole segment file) and calls fn for each
// record in order. Only the last segment may end in a torn tail: every other
// one was synced in full before its successor was created.
//
// A bad record in the last segment is taken for a torn tail only when the
// bytes could be what an interrupted final write leaves behind:
//   - fewer bytes than a record header remain;
//   - the header is valid but the payload runs past the end of the file;
//   - the header is valid, the payload fails its checksum, and the file
//     ends with it or holds only zero bytes after it (the final write,
//     partly persisted);
//   - every byte after the record's header to the end of the file is zero,
//     the header too or not (the file size was extended but the data never
//     reached the disk, or only its first bytes did).
//
// A healthy log never holds zero bytes after a record, so a bad record
// that only zeros follow is the end of the final write, wherever the
// persisted part of that write stopped: inside a record's header, inside
// its payload, or between two records.
//
// Anything else is a *CorruptError naming the segment and offset.
func scanSegment(path string, seg uint64, data []byte, last bool, fn func(Pos, []byte) error) (scanResult, error) {
	corrupt := func(off int, reason string) (scanResult, error) {
		return scanResult{}, &CorruptError{Segment: path, Offset: int64(off), Reason: reason}
	}
	if len(data) < segHeaderSize || allZero(data[:segHeaderSize]) {
		if last && allZero(data) {
			// Crashed while creating the segment: it holds nothing.
			return scanResult{end: 0, torn: len(data) > 0}, nil
		}
		if len(data) < segHeaderSize && last && string(data) == string(segmentHeader()[:len(data)]) {
			// Crashed while writing the segment header.
			return scanResult{end: 0, torn: true}, nil
		}
		return corrupt(0, "truncated segment header")
	}
	h := data[:segHeaderSize]
	if string(h[:8]) != segMagic {
		return corrupt(0, "bad segment magic")
	}
	if binary.LittleEndian.Uint32(h[12:16]) != checksum(h[:12]) {
		return corrupt(0, "bad segment header checksum")
	}
	if v := binary.LittleEndian.Uint32(h[8:12]); v != segVersion {
		// Whole (its checksum holds), so written as it is: by a version
		// of flowgen that knows a later format, not damaged.
		return corrupt(0, fmt.Sprintf("unsupported segment version %d (a store written by a newer flowgen?)", v))
	}
	off := segHeaderSize
	for off < len(data) {
		rest := data[off:]
		if len(rest) < recHeaderSize {
			if last {
				return scanResult{end: int64(off), torn: true}, nil
			}
			return corrupt(off, "truncated record header")
		}
		rh := rest[:recHeaderSize]
		if binary.LittleEndian.Uint32(rh[8:12]) != checksum(rh[:8]) {
			if last && allZero(rest[recHeaderSize:]) {
				return scanResult{end: int64(off), torn: true}, nil
			}
			return corrupt(off, "bad record header checksum")
		}
		n := int(binary.LittleEndian.Uint32(rh[0:4]))
		if n == 0 || n > MaxRecord {
			return corrupt(off, fmt.Sprintf("bad record length %d", n))
		}
		end := off + recHeaderSize + n
		if end > len(data) {
			if last {
				return scanResult{end: int64(off), torn: true}, nil
			}
			return corrupt(off, "truncated record")
		}
		payload := rest[recHeaderSize : recHeaderSize+n]
		if binary.LittleEndian.Uint32(rh[4:8]) != checksum(payload) {
			if last && allZero(data[end:]) {
				return scanResult{end: int64(off), torn: true}, nil
			}
			return corrupt(off, "bad record checksum")
		}
		if fn != nil {
			if err := fn(Pos{Segment: seg, Offset: int64(off)}, payload); err != nil {
				return scanResult{}, err
			}
		}
		off = end
	}
	return scanResult{end: int64(off)}, nil
}
