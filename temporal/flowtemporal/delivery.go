package flowtemporal

import (
	"encoding/json"

	"go.temporal.io/sdk/converter"

	"github.com/flowgen/flowgen/runtime"
)

// An event for an await is a signal (SignalName) whose argument is the
// event's payload as bytes, or, when the event carries its sender's trace
// context (runtime.Delivery.Link), an eventSignal with both. The bytes are
// the form senders without a link keep, so that runs of older code read
// them; a run reads either (deliveryOf).

// eventSignal is the argument of an event's signal that carries a link.
type eventSignal struct {
	Payload json.RawMessage `json:"payload"`
	Link    string          `json:"link"`
}

// SignalArg is the argument of the signal that delivers d to a run
// (SignalName): what Deliver and DeliverWith send, and what an executor
// that signals runs itself (temporal/jsonflows' inboxes) sends.
func SignalArg(d runtime.Delivery) any {
	if d.Link == "" {
		return []byte(d.Payload)
	}
	return eventSignal{Payload: d.Payload, Link: d.Link}
}

// deliveryOf reads an event's signal argument (SignalArg), raw as the run
// received it: bytes are the payload alone.
func deliveryOf(raw converter.RawValue) (runtime.Delivery, error) {
	dc := converter.GetDefaultDataConverter()
	if string(raw.Payload().GetMetadata()[converter.MetadataEncoding]) == converter.MetadataEncodingBinary {
		var p []byte
		err := dc.FromPayload(raw.Payload(), &p)
		return runtime.Delivery{Payload: p}, err
	}
	var s eventSignal
	err := dc.FromPayload(raw.Payload(), &s)
	return runtime.Delivery{Payload: s.Payload, Link: s.Link}, err
}
