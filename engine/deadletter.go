package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// deadLetter records that msg is never to be delivered, and why; a
// redelivery of it is acknowledged without being applied.
func (in *inbox) deadLetter(ctx context.Context, msg Message, reason string) error {
	now := in.now()
	sm := store.Message{Topic: msg.Topic, Event: msg.Event, ID: msg.ID, Payload: msg.Payload, Received: now}
	if err := in.st.DeadLetter(ctx, sm, reason, now); err != nil {
		return err
	}
	if in.tel != nil {
		in.tel.DeadLettered(msg.Topic, msg.Event)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	m := in.msgs[sm.Key()]
	if m != nil {
		in.unindex(m)
	} else {
		m = &inMsg{k: sm.Key(), received: now, hi: -1}
		in.msgs[m.k] = m
	}
	m.state, m.by = msgDead, ""
	in.setPayload(m, nil)
	in.setExpiry(m, now.Add(in.keepDead))
	return nil
}

// DeadLetter is a message the engine will never apply, and why.
type DeadLetter struct {
	Topic    string    `json:"topic"`
	Event    string    `json:"event"`
	ID       string    `json:"id"`
	Reason   string    `json:"reason"`
	Time     time.Time `json:"time"`     // when it was dead-lettered
	Received time.Time `json:"received"` // when it arrived
	// Payload is the message's payload when it is JSON in UTF-8;
	// PayloadText holds one that is not (ShowPayload).
	Payload     json.RawMessage `json:"payload,omitempty"`
	PayloadText string          `json:"payload_text,omitempty"`
}

// DeadLetters lists the dead letters of the inbox, of topic and event if
// not "", in the order they arrived. They are kept for
// Options.DeadLetterRetention.
func (e *Engine) DeadLetters(topic, event string) ([]DeadLetter, error) {
	return e.deadLetters(topic, event, false, store.MessageKey{}, 0)
}

// deadLetters is DeadLetters, newest first if newest, the first limit of
// them (0: all) listed after the message after (store.MessageFilter.After;
// zero: from the first).
func (e *Engine) deadLetters(topic, event string, newest bool, after store.MessageKey, limit int) ([]DeadLetter, error) {
	ms, err := e.in.st.Messages(store.MessageFilter{Topic: topic, Event: event, State: store.MessageDead, Newest: newest, After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, len(ms))
	for i, m := range ms {
		out[i] = DeadLetter{Topic: m.Topic, Event: m.Event, ID: m.ID, Reason: m.Reason, Time: m.Updated, Received: m.Received}
		out[i].Payload, out[i].PayloadText = ShowPayload(m.Payload)
	}
	return out, nil
}

// ShowPayload is how a stored payload p is shown in JSON: as itself when it
// is JSON the engine takes in (jsonUnfit: UTF-8, numbers a float64 holds,
// nesting within MaxJSONDepth), else as text (each byte that is not UTF-8
// read as U+FFFD when the text is encoded). A payload dead-lettered for
// not being so, shown as it came, would make the whole answer one a
// client cannot read: encoding/json copies a json.RawMessage as it is,
// and a client decoding the list fails on the payload's bytes that are
// not UTF-8, or its number 1e999, as the engine did.
func ShowPayload(p []byte) (payload json.RawMessage, text string) {
	if json.Valid(p) && jsonUnfit(p) == nil {
		return p, ""
	}
	return nil, string(p)
}
