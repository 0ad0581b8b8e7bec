package engine

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// deadLetter records that msg is never to be delivered, and why; a
// redelivery of it is acknowledged without being applied. A message a run
// has claimed meanwhile (the inbox took it in before a flow it triggers
// could no longer start from it) stays the run's: the store refuses to
// dead-letter it (a message is claimed or dead, never both), and it is
// acknowledged as it is, with a warning.
func (in *inbox) deadLetter(ctx context.Context, msg Message, reason string) error {
	now := in.now()
	sm := store.Message{Topic: msg.Topic, Event: msg.Event, ID: msg.ID, Payload: msg.Payload, Received: now}
	if err := in.st.DeadLetter(ctx, sm, reason, now); errors.Is(err, store.ErrMessageState) {
		in.log.Warn("event not dead-lettered: a run took it", "topic", msg.Topic, "event", msg.Event, "id", msg.ID, "reason", reason, "error", err)
		return nil
	} else if err != nil {
		return err
	}
	if in.tel != nil {
		in.tel.DeadLettered(msg.Topic, msg.Event)
	}
	in.mu.Lock()
	m := in.msgs[sm.Key()]
	if m != nil {
		in.unindex(m)
	} else {
		m = &inMsg{k: sm.Key(), received: now, hi: -1}
		in.msgs[m.k] = m
	}
	m.state, m.by = msgDead, ""
	in.addDead(m)
	in.setPayload(m, nil)
	in.setExpiry(m, now.Add(in.keepDead))
	in.mu.Unlock()
	in.trimDead()
	return nil
}

// DeadLetterDropLogInterval is how often at most the inbox logs that it
// dropped dead letters early (Options.MaxDeadLetters), with how many
// since: a publisher flooding a topic makes one drop per message.
const DeadLetterDropLogInterval = time.Minute

// DeadLetterLogBurst is how many "event dead-lettered" lines (an event
// trigger's message that cannot start its flow) the engine writes in a
// DeadLetterLogInterval; it counts the others and logs their number with
// the first line of a later interval ("events dead-lettered, not
// logged"): whoever publishes to a topic makes one at will.
const (
	DeadLetterLogBurst    = 20
	DeadLetterLogInterval = time.Minute
)

// addDead makes m, dead, the newest dead letter. in.mu is held.
func (in *inbox) addDead(m *inMsg) {
	m.prev, m.next = in.dead.tail, nil
	if in.dead.tail != nil {
		in.dead.tail.next = m
	} else {
		in.dead.head = m
	}
	in.dead.tail = m
	in.nDead++
}

// dropDead takes m out of the dead letters, if it is one of them. in.mu
// is held.
func (in *inbox) dropDead(m *inMsg) {
	if m.prev == nil && in.dead.head != m {
		return // not listed (dropped early: trimDead)
	}
	if m.prev != nil {
		m.prev.next = m.next
	} else {
		in.dead.head = m.next
	}
	if m.next != nil {
		m.next.prev = m.prev
	} else {
		in.dead.tail = m.prev
	}
	m.prev, m.next = nil, nil
	in.nDead--
}

// trimDead drops the oldest dead letters beyond Options.MaxDeadLetters
// before their retention ends, as a queue with a bound on its messages
// drops its oldest (SQS, NATS JetStream's max-msgs): they are a
// diagnostic record, and a publisher flooding a topic with payloads that
// cannot be applied would otherwise grow the inbox's index and the
// store's for DeadLetterRetention. Each drop is recorded as the expiry it
// comes early for (expire). in.mu is not held.
func (in *inbox) trimDead() {
	in.mu.Lock()
	var drop []*inMsg
	for in.nDead > in.maxDead {
		m := in.dead.head
		in.dropDead(m)
		if m.hi >= 0 {
			heap.Remove(&in.expiry, m.hi) // expire's: it is due now
		}
		drop = append(drop, m)
	}
	if len(drop) == 0 {
		in.mu.Unlock()
		return
	}
	in.dropped += len(drop)
	dropped := 0
	if ok, _, _ := in.dropLog.Allow(in.clock.Now()); ok {
		dropped, in.dropped = in.dropped, 0
	}
	in.mu.Unlock()
	if dropped > 0 {
		in.log.Warn("oldest dead letters dropped before their retention: the inbox keeps at most Options.MaxDeadLetters (-max-dead-letters)",
			"dropped", dropped, "max", in.maxDead)
	}
	for _, m := range drop {
		in.expire(m)
	}
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
	ms, err := e.in.st.Messages(deadFilter(topic, event, false, store.MessageKey{}, 0))
	if err != nil {
		return nil, err
	}
	return showDead(ms), nil
}

// MaxDeadLetterPageBytes bounds the payloads of a GET /deadletters page
// past its first dead letter, as MaxHistoryPageBytes bounds a history
// page: a dead letter's payload is as large as the broker delivered it (a
// NATS publisher's, up to the server's max_payload; an event larger than
// the inbox's bound, dead-lettered for that), and a page of MaxListLimit
// of them would otherwise be read, held and sent whole, gigabytes for one
// request. A page cut by it says "truncated", as one cut by its limit.
const MaxDeadLetterPageBytes = 4 << 20

// messagePager is an InboxStore that reads a page of messages without
// reading the payloads past it (store.Store, store.Memory).
type messagePager interface {
	MessagePage(f store.MessageFilter, maxBytes int) ([]store.Message, bool, error)
}

// deadLetterPage is a page of GET /deadletters: the dead letters of topic
// and event if not "", newest first if newest, listed after the message
// after (store.MessageFilter.After; zero: from the first), at most limit
// and MaxDeadLetterPageBytes of payloads past the first (store's page
// rule), and whether more follow. An InboxStore without MessagePage has
// them listed, then cut by the same rule.
func (e *Engine) deadLetterPage(topic, event string, newest bool, after store.MessageKey, limit int) ([]DeadLetter, bool, error) {
	f := deadFilter(topic, event, newest, after, limit)
	if p, ok := e.in.st.(messagePager); ok {
		ms, more, err := p.MessagePage(f, MaxDeadLetterPageBytes)
		return showDead(ms), more, err
	}
	f.Limit = limit + 1
	ms, err := e.in.st.Messages(f)
	if err != nil {
		return nil, false, err
	}
	ms, more, err := store.MessagesPage(ms, limit, MaxDeadLetterPageBytes)
	return showDead(ms), more, err
}

// deadFilter selects the dead letters of topic and event if not "" (limit
// 0: all).
func deadFilter(topic, event string, newest bool, after store.MessageKey, limit int) store.MessageFilter {
	return store.MessageFilter{Topic: topic, Event: event, State: store.MessageDead, Newest: newest, After: after, Limit: limit}
}

// showDead is the dead letters ms as the API shows them.
func showDead(ms []store.Message) []DeadLetter {
	out := make([]DeadLetter, len(ms))
	for i, m := range ms {
		out[i] = DeadLetter{Topic: m.Topic, Event: m.Event, ID: m.ID, Reason: m.Reason, Time: m.Updated, Received: m.Received}
		out[i].Payload, out[i].PayloadText = ShowPayload(m.Payload)
	}
	return out
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
