package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Records are stored in a compact binary form rather than a JSON form:
// opening a store decodes every record to rebuild the index, and this form
// decodes several times faster. The first byte of every record is its kind,
// so that kinds (and new versions of a kind) can be added without guessing;
// a kind this code does not know makes Open fail, naming the record.
//
// An event of a run (kind 1, the store's first format):
//
//	kind     byte (1)
//	seq      uvarint
//	time     varint Unix nanoseconds, varint zone offset in seconds
//	attempt  varint
//	run, flow, step, from, to, outcome, error, state: uvarint length + bytes
//
// An event of a run that may wait (kind 3, written since runs record their
// waits): kind 1's fields, then
//
//	payload  uvarint length + bytes (the event that woke the run)
//	wait     uvarint length + the Wait's JSON form, 0 for none
//
// An event of a branch of a parallel block, or one that carries a trace
// (kind 4, written since runs have parallel blocks and may be traced; only
// for an event with a Branch or a Trace, so that other events stay kind 3
// records byte for byte): kind 3's fields, then
//
//	branch   uvarint length + bytes (runtime.Event.Branch, "" outside a block)
//	trace    uvarint length + bytes (runtime.Event.Trace, a W3C traceparent, or "")
//
// An event that links a run to another (kind 5, written since calls run
// child runs; only for an event with a Parent or a Child): kind 4's fields,
// then
//
//	parent   flow, run: uvarint length + bytes each ("" for none)
//	child    flow, run: uvarint length + bytes each ("" for none)
//
// An event that ends a wait on a delivered event that carried trace context
// (kind 6, written since a run records its waker's trace; only for an event
// with a Link): kind 5's fields, then
//
//	link     uvarint length + bytes (runtime.Event.Link, a W3C traceparent)
//
// A retry whose next attempt backs off (kind 8, written since a retry
// records when that attempt may start; only for an event with a RetryAt):
// kind 6's fields, then
//
//	retry at varint Unix nanoseconds, varint zone offset in seconds
//
// Kind 1, 3, 4, 5 and 6 records are still read.
//
// A transition of an inbox message (kind 2) is described in inbox.go, an
// abort request of a run (kind 7) in abort.go.
const (
	kindEventV1  = 1
	kindMessage  = 2
	kindEvent    = 3
	kindExtended = 4
	kindLinked   = 5
	kindWoken    = 6
	kindAbort    = 7
	kindRetried  = 8
)

// isEventKind reports whether a record of kind k is an event of a run.
func isEventKind(k byte) bool {
	switch k {
	case kindEventV1, kindEvent, kindExtended, kindLinked, kindWoken, kindRetried:
		return true
	}
	return false
}

// appendTime appends t as Unix nanoseconds and its zone offset, so that it
// reads back in the same zone (a fixed one).
func appendTime(b []byte, t time.Time) []byte {
	_, off := t.Zone()
	b = binary.AppendVarint(b, t.UnixNano())
	return binary.AppendVarint(b, int64(off))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeEvent appends the record form of e to b. It fails, appending
// nothing, for a wait the runtime's rule says a history cannot record
// (runtime.Wait.Recordable: a time outside the years 0 to 9999, which
// the runtime itself never records for a sleep), or whose JSON form does
// not encode all the same.
func encodeEvent(b []byte, e *runtime.Event) ([]byte, error) {
	var wait []byte
	if e.Wait != nil {
		err := e.Wait.Recordable()
		if err == nil {
			wait, err = json.Marshal(e.Wait)
		}
		if err != nil {
			return b, fmt.Errorf("%w: run %q seq %d: its wait cannot be recorded: %w", ErrInvalidEvent, e.RunID, e.Seq, err)
		}
	}
	kind := byte(kindEvent)
	switch {
	case !e.RetryAt.IsZero():
		kind = kindRetried
	case e.Link != "":
		kind = kindWoken
	case e.Parent != nil || e.Child != nil:
		kind = kindLinked
	case e.Branch != "" || e.Trace != "":
		kind = kindExtended
	}
	b = append(b, kind)
	b = binary.AppendUvarint(b, e.Seq)
	b = appendTime(b, e.Time)
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
	b = binary.AppendUvarint(b, uint64(len(wait)))
	b = append(b, wait...)
	if kind >= kindExtended {
		b = appendString(b, e.Branch)
		b = appendString(b, e.Trace)
	}
	if kind >= kindLinked {
		for _, ref := range []*runtime.RunRef{e.Parent, e.Child} {
			var r runtime.RunRef
			if ref != nil {
				r = *ref
			}
			b = appendString(b, r.Flow)
			b = appendString(b, r.RunID)
		}
	}
	if kind >= kindWoken {
		b = appendString(b, e.Link)
	}
	if kind == kindRetried {
		b = appendTime(b, e.RetryAt)
	}
	return b, nil
}

// runRef decodes a RunRef written by encodeEvent; nil for none.
func (d *decoder) runRef() *runtime.RunRef {
	r := runtime.RunRef{Flow: d.string(), RunID: d.string()}
	if r == (runtime.RunRef{}) {
		return nil
	}
	return &r
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

func (d *decoder) time() time.Time {
	nanos, off := d.varint(), d.varint()
	t := time.Unix(0, nanos)
	if off == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", int(off)))
}

// end reports a decoding error, or bytes left over after the record.
func (d *decoder) end(what string) error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d trailing bytes in %s record", len(d.b), what)
	}
	return nil
}

// decodeEvent decodes a record. The event does not alias p.
func decodeEvent(p []byte) (runtime.Event, error) {
	if len(p) == 0 {
		return runtime.Event{}, errShort
	}
	if !isEventKind(p[0]) {
		return runtime.Event{}, fmt.Errorf("record of kind %d is not an event", p[0])
	}
	d := decoder{b: p[1:]}
	var e runtime.Event
	e.Seq = d.uvarint()
	e.Time = d.time()
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
	if p[0] != kindEventV1 {
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
	if p[0] >= kindExtended {
		e.Branch = d.string()
		e.Trace = d.string()
	}
	if p[0] >= kindLinked {
		e.Parent = d.runRef()
		e.Child = d.runRef()
	}
	if p[0] == kindWoken || p[0] == kindRetried {
		e.Link = d.string()
	}
	if p[0] == kindRetried {
		e.RetryAt = d.time()
	}
	if err := d.end("event"); err != nil {
		return runtime.Event{}, err
	}
	return e, nil
}
