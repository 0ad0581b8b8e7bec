package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Events are stored in a compact binary form rather than their JSON form:
// opening a store decodes every record to rebuild the index, and this form
// decodes several times faster. codecVersion is the first byte of every
// record, so the format can change without guessing.
//
//	version  byte (1)
//	seq      uvarint
//	time     varint Unix nanoseconds, varint zone offset in seconds
//	attempt  varint
//	run, flow, step, from, to, outcome, error, state: uvarint length + bytes
//	payload: uvarint length + bytes (version 2)
//	wait: uvarint length + its JSON form, 0 for none (version 2)
//
// Version 1 records (without payload and wait) are still read.
const codecVersion = 2

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeEvent appends the record form of e to b.
func encodeEvent(b []byte, e *runtime.Event) []byte {
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, e.Seq)
	_, off := e.Time.Zone()
	b = binary.AppendVarint(b, e.Time.UnixNano())
	b = binary.AppendVarint(b, int64(off))
	b = binary.AppendVarint(b, int64(e.Attempt))
	b = appendString(b, e.RunID)
	b = appendString(b, e.Flow)
	b = appendString(b, e.Step)
	b = appendString(b, e.From)
	b = appendString(b, e.To)
	b = appendString(b, e.Outcome)
	b = appendString(b, e.Error)
	b = binary.AppendUvarint(b, uint64(len(e.State)))
	b = append(b, e.State...)
	b = binary.AppendUvarint(b, uint64(len(e.Payload)))
	b = append(b, e.Payload...)
	var wait []byte
	if e.Wait != nil {
		wait, _ = json.Marshal(e.Wait) // a struct of strings, a bool and times: it encodes
	}
	b = binary.AppendUvarint(b, uint64(len(wait)))
	return append(b, wait...)
}

var errShort = errors.New("record too short")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

// decodeEvent decodes a record. The event does not alias p.
func decodeEvent(p []byte) (runtime.Event, error) {
	if len(p) == 0 {
		return runtime.Event{}, errShort
	}
	if p[0] != codecVersion && p[0] != 1 {
		return runtime.Event{}, fmt.Errorf("unsupported event record version %d", p[0])
	}
	d := decoder{b: p[1:]}
	var e runtime.Event
	e.Seq = d.uvarint()
	nanos, off := d.varint(), d.varint()
	e.Attempt = int(d.varint())
	e.RunID = d.string()
	e.Flow = d.string()
	e.Step = d.string()
	e.From = d.string()
	e.To = d.string()
	e.Outcome = d.string()
	e.Error = d.string()
	if st := d.bytes(); len(st) > 0 {
		e.State = append([]byte(nil), st...)
	}
	if p[0] >= 2 {
		if pl := d.bytes(); len(pl) > 0 {
			e.Payload = append([]byte(nil), pl...)
		}
		if w := d.bytes(); len(w) > 0 && d.err == nil {
			e.Wait = new(runtime.Wait)
			if err := json.Unmarshal(w, e.Wait); err != nil {
				return runtime.Event{}, fmt.Errorf("event record wait: %w", err)
			}
		}
	}
	if d.err != nil {
		return runtime.Event{}, d.err
	}
	if len(d.b) != 0 {
		return runtime.Event{}, fmt.Errorf("%d trailing bytes in event record", len(d.b))
	}
	e.Time = time.Unix(0, nanos)
	if off == 0 {
		e.Time = e.Time.UTC()
	} else {
		e.Time = e.Time.In(time.FixedZone("", int(off)))
	}
	return e, nil
}
