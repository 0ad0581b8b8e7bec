package store

import (
	"bytes"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// FuzzDecodeRecord: a record's checksum can match damage that a crash or a
// bad disk left (or a store of a newer flowgen), so the record decoders
// must refuse anything they cannot read with an error, never panic; and
// what they read, written again, reads back the same. The seeds are a
// record of every event kind and every inbox operation.
func FuzzDecodeRecord(f *testing.F) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600))
	e := fiveStepEvents("r-1")[1]
	e.Time = at
	e.Payload = []byte(`{"paid":true}`)
	e.Wait = &runtime.Wait{Topic: "payments", Event: "paid", Correlated: true, Correlation: "o-1", Deadline: at}
	events := []runtime.Event{fiveStepEvents("r-1")[0], e}
	e.Branch, e.Trace = "Reserve", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	events = append(events, e)
	e.Parent, e.Child = &runtime.RunRef{Flow: "Order", RunID: "o-1"}, &runtime.RunRef{Flow: "Billing", RunID: "o-1@Bill"}
	events = append(events, e)
	e.Link = e.Trace
	events = append(events, e)
	for i := range events {
		f.Add(mustEncodeEvent(f, &events[i]))
	}
	k := MessageKey{"payments", "paid", "m-1"}
	for _, r := range []msgRecord{
		{op: opReceived, time: at, k: k, payload: []byte(`{"a":1}`)},
		{op: opReceived, time: at, k: k, payload: []byte(`{}`), link: e.Trace},
		{op: opClaimed, time: at, k: k, key: "r-1/Pay"},
		{op: opReleased, time: at, k: k, key: "r-1/Pay"},
		{op: opDead, time: at, k: k, reason: "poison", hasPayload: true, payload: []byte(`[1]`)},
		{op: opDead, time: at, k: k, reason: "expired"},
		{op: opExpired, time: at, k: k},
	} {
		f.Add(encodeMessage(nil, &r))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if ev, err := decodeEvent(p); err == nil {
			again, err := decodeEvent(mustEncodeEvent(t, &ev))
			if err != nil {
				t.Fatalf("an event read from %x does not read back: %v", p, err)
			}
			if a, b := mustEncodeEvent(t, &ev), mustEncodeEvent(t, &again); !bytes.Equal(a, b) {
				t.Fatalf("event %+v reads back as %+v", ev, again)
			}
		}
		if r, err := decodeMessage(p); err == nil {
			again, err := decodeMessage(encodeMessage(nil, &r))
			if err != nil {
				t.Fatalf("a message record read from %x does not read back: %v", p, err)
			}
			if a, b := encodeMessage(nil, &r), encodeMessage(nil, &again); !bytes.Equal(a, b) {
				t.Fatalf("message record %+v reads back as %+v", r, again)
			}
		}
	})
}
