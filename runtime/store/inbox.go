package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/flowgen/flowgen/runtime/store/internal/wal"
)

// The inbox: messages (events from a broker) that a durable engine keeps
// until a run takes them, with what became of each. A message is identified
// by its topic, event and ID together (MessageKey): the same ID on two
// topics is two messages. Its life is a series of records in the same log
// as the runs' events:
//
//	received  -> pending
//	claimed   pending -> claimed (by an idempotency key, runtime.Key)
//	released  claimed -> pending (the claim given back)
//	dead      pending or claimed (or never received) -> dead, with a reason
//	expired   any -> gone from the index
//
// Each transition is checked against the message's current state before it
// is written and happens once, whoever tries it concurrently: transitions
// of one message are written one at a time, and a transition that no longer
// applies fails (ErrMessageState) or, when it is already done (the same key
// claiming twice), does nothing. An expired message is forgotten: the same
// key received again is a new message.
//
// Record (kind 2):
//
//	kind     byte (2)
//	op       byte: 1 received, 2 claimed, 3 released, 4 dead, 5 expired
//	time     varint Unix nanoseconds, varint zone offset in seconds
//	topic, event, id: uvarint length + bytes
//	received: payload (uvarint length + bytes)
//	received with a link (op 6, for a message with a Link): payload, then
//	      the link (uvarint length + bytes)
//	claimed, released: key (uvarint length + bytes)
//	dead: reason, then a byte 1 and the payload for a message that was not
//	      in the inbox (received and dead at once), else a byte 0
//	expired: nothing more

// MessageState is where an inbox message is. Expired messages are no longer
// in the inbox.
type MessageState string

// The states of an inbox message.
const (
	MessagePending MessageState = "pending" // waiting for a run to take it
	MessageClaimed MessageState = "claimed" // taken by the key in ClaimedBy
	MessageDead    MessageState = "dead"    // dead-lettered: never delivered
)

// MessageKey identifies an inbox message: IDs are scoped by topic and event.
type MessageKey struct {
	Topic string `json:"topic"`
	Event string `json:"event"`
	ID    string `json:"id"`
}

// String is the key as "topic/event/id", for messages and logs (the parts
// may hold '/' themselves: it is not parsed back).
func (k MessageKey) String() string { return k.Topic + "/" + k.Event + "/" + k.ID }

// Message is an inbox message as its latest record leaves it.
type Message struct {
	Topic    string          `json:"topic"`
	Event    string          `json:"event"`
	ID       string          `json:"id"`
	Payload  json.RawMessage `json:"payload"`
	Received time.Time       `json:"received"` // when it was recorded
	State    MessageState    `json:"state"`
	// ClaimedBy is the idempotency key (runtime.Key) that claimed it.
	ClaimedBy string `json:"claimed_by,omitempty"`
	// Reason says why a dead message is dead.
	Reason string `json:"reason,omitempty"`
	// Updated is the time of its latest record (its claim, release or
	// death; Received for a message that never moved).
	Updated time.Time `json:"updated"`
	// Link is the W3C traceparent of the span that sent the message, when
	// its receiver knew it: what the run that takes it records
	// (runtime.Delivery.Link).
	Link string `json:"link,omitempty"`
}

// Key returns the message's topic, event and ID.
func (m *Message) Key() MessageKey { return MessageKey{m.Topic, m.Event, m.ID} }

// MessageFilter selects messages for Messages. Zero fields match everything.
type MessageFilter struct {
	Topic string
	Event string
	State MessageState
	// After, if set, lists only the messages listed after this one (in
	// the order Messages lists), whether or not it matches: a page starts
	// after the last message of the one before. The order is the log's
	// (the index applies each group commit's records in it), which a
	// compaction and a restart keep, so a page neither repeats nor skips a
	// message of an earlier one, and a message received meanwhile comes
	// after every message listed before it. A key the inbox does not have (never received, or expired) is an
	// error (ErrUnknownMessage).
	After MessageKey
	// Limit keeps the first Limit messages that match, in the order they
	// are listed, and reads only their payloads; 0 keeps every one.
	Limit int
	// Newest lists the messages newest first (the reverse of the order of
	// receipt); After then continues after that message in this order,
	// with the older ones, and a message received meanwhile is before
	// every page, not on a later one.
	Newest bool
	// NoPayload lists the messages without their payloads (Payload nil),
	// reading none: what needs the state of every message (an engine's
	// inbox at start) is not bound to hold every payload at once.
	NoPayload bool
}

func (f MessageFilter) match(m *Message) bool {
	return (f.Topic == "" || f.Topic == m.Topic) && (f.Event == "" || f.Event == m.Event) &&
		(f.State == "" || f.State == m.State)
}

// Errors of the inbox's transitions.
var (
	// ErrUnknownMessage: the message is not in the inbox (never received,
	// or expired).
	ErrUnknownMessage = errors.New("store: unknown message")
	// ErrMessageState: the transition does not apply to the message as it
	// is (claimed by another key, dead, ...).
	ErrMessageState = errors.New("store: message in another state")
	// ErrInvalidMessage: a message without a topic, an event or an ID, or
	// without a time.
	ErrInvalidMessage = errors.New("store: invalid message")
)

type msgOp byte

const (
	opReceived msgOp = 1
	opClaimed  msgOp = 2
	opReleased msgOp = 3
	opDead     msgOp = 4
	opExpired  msgOp = 5
	// opReceivedLinked is opReceived with a link, on disk only: decoding
	// reads it as opReceived.
	opReceivedLinked msgOp = 6
)

// msgRecord is one transition of a message.
type msgRecord struct {
	op         msgOp
	time       time.Time
	k          MessageKey
	payload    []byte       // received, and dead with hasPayload
	link       string       // received
	hasPayload bool         // dead: the message was not in the inbox
	key        string       // claimed, released
	reason     string       // dead
	expect     MessageState // expired: only from this state ("": any); not written
}

func encodeMessage(b []byte, r *msgRecord) []byte {
	op := r.op
	if op == opReceived && r.link != "" {
		op = opReceivedLinked
	}
	b = append(b, kindMessage, byte(op))
	b = appendTime(b, r.time)
	b = appendString(b, r.k.Topic)
	b = appendString(b, r.k.Event)
	b = appendString(b, r.k.ID)
	switch r.op {
	case opReceived:
		b = binary.AppendUvarint(b, uint64(len(r.payload)))
		b = append(b, r.payload...)
		if op == opReceivedLinked {
			b = appendString(b, r.link)
		}
	case opClaimed, opReleased:
		b = appendString(b, r.key)
	case opDead:
		b = appendString(b, r.reason)
		if r.hasPayload {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(r.payload)))
			b = append(b, r.payload...)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// decodeMessage decodes a message record. It does not alias p.
func decodeMessage(p []byte) (msgRecord, error) {
	if len(p) < 2 {
		return msgRecord{}, errShort
	}
	if p[0] != kindMessage {
		return msgRecord{}, fmt.Errorf("record of kind %d is not an inbox message", p[0])
	}
	r := msgRecord{op: msgOp(p[1])}
	d := decoder{b: p[2:]}
	r.time = d.time()
	r.k = MessageKey{Topic: d.string(), Event: d.string(), ID: d.string()}
	payload := func() {
		if b := d.bytes(); b != nil {
			r.payload = append([]byte{}, b...)
		}
	}
	switch r.op {
	case opReceived:
		payload()
	case opReceivedLinked:
		payload()
		r.op, r.link = opReceived, d.string()
	case opClaimed, opReleased:
		r.key = d.string()
	case opDead:
		r.reason = d.string()
		if len(d.b) == 0 {
			return msgRecord{}, errShort
		}
		flag := d.b[0]
		d.b = d.b[1:]
		switch flag {
		case 0:
		case 1:
			r.hasPayload = true
			payload()
		default:
			return msgRecord{}, fmt.Errorf("bad payload flag %d in dead message record", flag)
		}
	case opExpired:
	default:
		return msgRecord{}, fmt.Errorf("unknown inbox message operation %d", r.op)
	}
	if err := d.end("inbox message"); err != nil {
		return msgRecord{}, err
	}
	return r, nil
}

// msgEntry is what the index keeps of a message: everything but the
// payload, which a Store reads back from the record at pos (Memory keeps it
// in msg).
type msgEntry struct {
	msg  Message
	pos  wal.Pos
	at   int // its place in inboxIndex.order
	recs int // records written of it
}

// inboxIndex is the current state of every message in the inbox, which
// both stores keep.
type inboxIndex struct {
	msgs map[MessageKey]*msgEntry
	// order is the messages in the order of receipt, with nil where one
	// expired (each entry knows its place, msgEntry.at): a page starts
	// at its cursor's place and looks at the entries it lists (and those
	// its filter passes over), not at the whole inbox, so reading every
	// page costs what one read of the whole does. Holes are swept out
	// once they are more than half of it (sweep), so it is at most twice
	// as long as the messages it holds, and its room, which append
	// doubles, at most 4 words a message (1 to 2 without holes); head
	// skips the holes at its start, where retention expires the oldest.
	order []*msgEntry
	// holes counts the nils in order; head is the place of its first
	// entry (len(order) when it has none).
	holes, head int
	// looked counts the entries of order lists have looked at, for a
	// test: reading every page looks at each about once.
	looked      atomic.Uint64
	keepPayload bool
	// expired counts the records of expired messages (their expiry
	// included), which a compaction drops from the log, by the segment of
	// the expiry record: only those whose expiry is in a sealed segment
	// can go (every record of a message precedes its expiry), so a look
	// counts only those (expiredThrough).
	expired map[uint64]int
}

func newInboxIndex(keepPayload bool) inboxIndex {
	return inboxIndex{msgs: map[MessageKey]*msgEntry{}, keepPayload: keepPayload, expired: map[uint64]int{}}
}

// expiredThrough is the number of records of the messages whose expiry is
// in a segment up to hi: what a compaction of those segments removes.
func (x *inboxIndex) expiredThrough(hi uint64) int {
	n := 0
	for seg, recs := range x.expired {
		if seg <= hi {
			n += recs
		}
	}
	return n
}

// compacted forgets the expired messages of the segments up to hi, which
// a compaction removed.
func (x *inboxIndex) compacted(hi uint64) {
	for seg := range x.expired {
		if seg <= hi {
			delete(x.expired, seg)
		}
	}
}

// errExists is check's answer to a message received again.
var errExists = errors.New("store: message already in the inbox")

// check reports whether r applies to the message as it is: an error if
// not, noop if it is already done. A dead record for a message in the inbox
// loses its payload (the received record has it).
func (x *inboxIndex) check(r *msgRecord) (noop bool, err error) {
	if r.k.Topic == "" || r.k.Event == "" || r.k.ID == "" || r.time.IsZero() {
		return false, fmt.Errorf("%w: %q needs a topic, an event, an ID and a time", ErrInvalidMessage, r.k)
	}
	cur := x.msgs[r.k]
	if cur == nil {
		switch {
		case r.op == opReceived, r.op == opDead && r.hasPayload:
			return false, nil
		}
		return false, fmt.Errorf("%w: %s", ErrUnknownMessage, r.k)
	}
	m := &cur.msg
	state := func() error { return stateError(m) }
	switch r.op {
	case opReceived:
		return false, errExists
	case opClaimed:
		if m.State == MessageClaimed && m.ClaimedBy == r.key {
			return true, nil
		}
		if m.State != MessagePending {
			return false, state()
		}
	case opReleased:
		if m.State == MessagePending {
			return true, nil
		}
		if m.State != MessageClaimed || m.ClaimedBy != r.key {
			return false, state()
		}
	case opDead:
		r.hasPayload, r.payload = false, nil
		if m.State == MessageDead {
			return true, nil
		}
	case opExpired:
		if r.expect != "" && m.State != r.expect {
			return false, state()
		}
	default:
		return false, fmt.Errorf("%w: unknown operation %d", ErrInvalidMessage, r.op)
	}
	return false, nil
}

// checkNew is check of a record about to be written: a claimed message is
// not dead-lettered now (a run took it: dead-lettering it would say it was
// never applied, and an engine's claim in flight handed the run a dead
// letter). A log written before may hold such records: check, which
// replays them, takes them.
func (x *inboxIndex) checkNew(r *msgRecord) (noop bool, err error) {
	if cur := x.msgs[r.k]; r.op == opDead && cur != nil && cur.msg.State == MessageClaimed {
		return false, stateError(&cur.msg)
	}
	return x.check(r)
}

// stateError is ErrMessageState for a transition m's state refuses.
func stateError(m *Message) error {
	if m.State == MessageClaimed {
		return fmt.Errorf("%w: %s is claimed by %q", ErrMessageState, m.Key(), m.ClaimedBy)
	}
	return fmt.Errorf("%w: %s is %s", ErrMessageState, m.Key(), m.State)
}

// apply records r, already checked; pos is where it is in the log.
func (x *inboxIndex) apply(r *msgRecord, pos wal.Pos) {
	cur := x.msgs[r.k]
	if cur == nil { // received, or dead on arrival
		cur = &msgEntry{msg: Message{Topic: r.k.Topic, Event: r.k.Event, ID: r.k.ID, Received: r.time, State: MessagePending, Link: r.link},
			pos: pos, at: len(x.order)}
		if x.keepPayload {
			cur.msg.Payload = append(json.RawMessage(nil), r.payload...)
		}
		x.msgs[r.k] = cur
		x.order = append(x.order, cur)
	}
	m := &cur.msg
	m.Updated = r.time
	cur.recs++
	switch r.op {
	case opClaimed:
		m.State, m.ClaimedBy = MessageClaimed, r.key
	case opReleased:
		m.State, m.ClaimedBy = MessagePending, ""
	case opDead:
		m.State, m.Reason = MessageDead, r.reason
	case opExpired:
		x.expired[pos.Segment] += cur.recs
		delete(x.msgs, r.k)
		x.remove(cur)
	}
}

// remove takes e, which expired, out of x.order.
func (x *inboxIndex) remove(e *msgEntry) {
	x.order[e.at] = nil
	x.holes++
	for x.head < len(x.order) && x.order[x.head] == nil {
		x.head++
	}
	if x.holes > len(x.order)/2 {
		x.sweep()
	}
}

// sweep drops the holes of x.order into a new slice just as long, so that
// an inbox that held many messages once does not keep their room.
func (x *inboxIndex) sweep() {
	order := make([]*msgEntry, 0, len(x.order)-x.holes)
	for _, e := range x.order[x.head:] {
		if e != nil {
			e.at = len(order)
			order = append(order, e)
		}
	}
	x.order, x.holes, x.head = order, 0, 0
}

// list returns the entries f selects, in the order of receipt (the
// reverse for f.Newest): the first f.Limit of them (all for 0) after
// f.After. It looks at the entries from f.After's place on, up to the
// last it lists.
func (x *inboxIndex) list(f MessageFilter) ([]msgEntry, error) {
	from, step := x.head, 1
	if f.Newest {
		from, step = len(x.order)-1, -1
	}
	if f.After != (MessageKey{}) {
		e, ok := x.msgs[f.After]
		if !ok {
			return nil, fmt.Errorf("%w: %s (MessageFilter.After)", ErrUnknownMessage, f.After)
		}
		from = e.at + step
	}
	// Select pointers and copy only those: a whole list is copied once.
	var sel []*msgEntry
	looked := 0
	for i := from; i >= 0 && i < len(x.order); i += step {
		looked++
		if e := x.order[i]; e != nil && f.match(&e.msg) {
			if sel = append(sel, e); len(sel) == f.Limit {
				break
			}
		}
	}
	x.looked.Add(uint64(looked))
	out := make([]msgEntry, len(sel))
	for i, e := range sel {
		out[i] = *e
	}
	return out, nil
}

// msgLog is what the inbox's operations need of a store.
type msgLog interface {
	// write checks r against the index, makes it durable and applies it,
	// one transition of a message at a time.
	write(ctx context.Context, r *msgRecord) error
	// writeAll does what write does for each of rs (of distinct messages),
	// the records made durable together and in order: an error per record.
	writeAll(ctx context.Context, rs []*msgRecord) []error
	// entries returns the index's entries f selects (inboxIndex.list), or
	// the one of k.
	entries(f MessageFilter) ([]msgEntry, error)
	entry(k MessageKey) (msgEntry, bool)
	// payload fills e.msg.Payload.
	payload(e *msgEntry) error
	// reading runs fn while the positions of the entries it reads stay
	// where they are (a compaction moves them).
	reading(fn func() error) error
}

// receivedRecord is the record of m's receipt.
func receivedRecord(m *Message) *msgRecord {
	return &msgRecord{op: opReceived, time: m.Received, k: m.Key(), payload: m.Payload, link: m.Link}
}

// pending is m as its receipt leaves it.
func pending(m *Message) Message {
	return Message{Topic: m.Topic, Event: m.Event, ID: m.ID, Payload: m.Payload, Received: m.Received, Link: m.Link,
		State: MessagePending, Updated: m.Received}
}

func putMessage(l msgLog, ctx context.Context, m Message) (Message, bool, error) {
	r := receivedRecord(&m)
	for {
		err := l.write(ctx, r)
		if err == nil {
			return pending(&m), true, nil
		}
		if !errors.Is(err, errExists) {
			return Message{}, false, err
		}
		cur, ok, err := getMessage(l, r.k)
		if ok || err != nil {
			return cur, false, err
		}
		// Expired between the two looks: put it again.
	}
}

func putMessages(l msgLog, ctx context.Context, ms []Message) ([]Message, []bool, error) {
	out, fresh := make([]Message, len(ms)), make([]bool, len(ms))
	first := make(map[MessageKey]int, len(ms))
	rs, at := make([]*msgRecord, 0, len(ms)), make([]int, 0, len(ms))
	for i := range ms {
		k := ms[i].Key()
		if _, dup := first[k]; dup {
			continue
		}
		first[k] = i
		rs = append(rs, receivedRecord(&ms[i]))
		at = append(at, i)
	}
	for j, err := range l.writeAll(ctx, rs) {
		i, m := at[j], &ms[at[j]]
		switch {
		case err == nil:
			out[i], fresh[i] = pending(m), true
		case errors.Is(err, errExists):
			// In the inbox before: PutMessage reads it (or puts it again if
			// it expired meanwhile).
			if out[i], _, err = putMessage(l, ctx, *m); err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, err
		}
	}
	for i := range ms {
		if j := first[ms[i].Key()]; j != i {
			out[i] = out[j] // a copy of an earlier message of ms: not new
		}
	}
	return out, fresh, nil
}

func getMessage(l msgLog, k MessageKey) (m Message, ok bool, err error) {
	err = l.reading(func() error {
		var e msgEntry
		if e, ok = l.entry(k); !ok {
			return nil
		}
		if err := l.payload(&e); err != nil {
			ok = false
			return err
		}
		m = e.msg
		return nil
	})
	return m, ok, err
}

func listMessages(l msgLog, f MessageFilter) (out []Message, err error) {
	err = l.reading(func() error {
		es, err := l.entries(f)
		if err != nil {
			return err
		}
		out = make([]Message, len(es))
		for i := range es {
			if out[i], err = messageOf(l, &es[i], f.NoPayload); err != nil {
				out = nil
				return err
			}
		}
		return nil
	})
	return out, err
}

// messageOf is the message of entry e as a list returns it: with its
// payload, read from the log, or with none (noPayload, MessageFilter's),
// reading nothing.
func messageOf(l msgLog, e *msgEntry, noPayload bool) (Message, error) {
	if noPayload {
		m := e.msg
		m.Payload = nil // Memory keeps it in the entry
		return m, nil
	}
	if err := l.payload(e); err != nil {
		return Message{}, err
	}
	return e.msg, nil
}

// inboxOps is the inbox's API, which Store and Memory embed over
// themselves.
type inboxOps struct{ l msgLog }

// PutMessage records a message received from a broker: m's topic, event,
// ID, payload and Received time (required). A message already in the inbox
// (the same topic, event and ID: a redelivery, or a copy another engine
// recorded) is not recorded again: PutMessage returns it as it is, with
// false. An expired message's key is new again.
func (o *inboxOps) PutMessage(ctx context.Context, m Message) (Message, bool, error) {
	return putMessage(o.l, ctx, m)
}

// PutMessages does what PutMessage does for each of ms, in order, with one
// turn in the store's group commit for them all: a broker consumer records
// a batch of deliveries with one sync, where PutMessage would take one
// each. The same message twice in ms is recorded once (the second is not
// new). The error is the first that stopped a message; messages recorded
// before it stay recorded (a retry finds them).
func (o *inboxOps) PutMessages(ctx context.Context, ms []Message) ([]Message, []bool, error) {
	return putMessages(o.l, ctx, ms)
}

// ClaimMessage records that the idempotency key (runtime.Key) takes the
// pending message k. It fails with ErrMessageState when k is not pending
// (another key claimed it first, or it is dead) and ErrUnknownMessage when
// k is not in the inbox; claiming again for the same key does nothing.
func (o *inboxOps) ClaimMessage(ctx context.Context, k MessageKey, key string, at time.Time) error {
	return o.l.write(ctx, &msgRecord{op: opClaimed, time: at, k: k, key: key})
}

// ReleaseMessage gives back key's claim on k: the message is pending
// again. Releasing a pending message does nothing; a message claimed by
// another key is ErrMessageState.
func (o *inboxOps) ReleaseMessage(ctx context.Context, k MessageKey, key string, at time.Time) error {
	return o.l.write(ctx, &msgRecord{op: opReleased, time: at, k: k, key: key})
}

// DeadLetter records that m is never to be delivered, and why: a pending
// message of the inbox, or one that was never received (recorded with its
// payload, received and dead at once, as at). A dead message stays in the
// inbox, listed by Messages, until it expires. Dead-lettering a dead
// message does nothing; a claimed one (a run took it) is ErrMessageState:
// a message is claimed or dead, never both.
func (o *inboxOps) DeadLetter(ctx context.Context, m Message, reason string, at time.Time) error {
	return o.l.write(ctx, &msgRecord{op: opDead, time: at, k: m.Key(), payload: m.Payload, hasPayload: true, reason: reason})
}

// ExpireMessage removes k from the inbox, if it is in state from ("" for
// any; else ErrMessageState), for good: it is never delivered, and its key
// is new again.
func (o *inboxOps) ExpireMessage(ctx context.Context, k MessageKey, from MessageState, at time.Time) error {
	return o.l.write(ctx, &msgRecord{op: opExpired, time: at, k: k, expect: from})
}

// GetMessage returns the message k, with its payload.
func (o *inboxOps) GetMessage(k MessageKey) (Message, bool, error) { return getMessage(o.l, k) }

// Messages returns the messages in the inbox that f selects, with their
// payloads, in the order they were received.
func (o *inboxOps) Messages(f MessageFilter) ([]Message, error) { return listMessages(o.l, f) }

// MessagePage returns a page of the messages f selects, in the order
// Messages lists them: at most f.Limit (at least 1), and, past the first,
// only as many as keep their payloads' bytes within maxBytes (the rule of
// a history's page, LoadPage), reading the payloads of those alone (and
// of the one that would pass the bound); more reports whether messages
// were left out. GET /deadletters answers one: a payload is as large as a
// broker delivered it, and a page of 1000 would otherwise be read and held
// whole. With f.NoPayload it reads no payload, and a page is cut by its
// limit alone: `flowgen inbox`'s table, which shows none, pages so.
func (o *inboxOps) MessagePage(f MessageFilter, maxBytes int) (ms []Message, more bool, err error) {
	limit := f.Limit
	if limit < 1 {
		return nil, false, fmt.Errorf("store: a page of %d messages", limit)
	}
	f.Limit = limit + 1 // one more tells whether more follow
	err = o.l.reading(func() error {
		es, err := o.l.entries(f)
		if err != nil {
			return err
		}
		ms, more, err = pageOf(len(es), func(i int) (Message, error) {
			return messageOf(o.l, &es[i], f.NoPayload)
		}, limit, maxBytes, MessageBytes)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return ms, more, nil
}

// MessageBytes is what a message weighs against a page's maxBytes
// (MessagePage): its payload, the part its publisher sizes.
func MessageBytes(m *Message) int { return len(m.Payload) }

// MessagesPage cuts the page of MessagePage from ms, messages listed
// whole (by an inbox store that has no MessagePage of its own).
func MessagesPage(ms []Message, limit, maxBytes int) ([]Message, bool, error) {
	return pageOf(len(ms), func(i int) (Message, error) { return ms[i], nil }, limit, maxBytes, MessageBytes)
}

func (s *Store) write(ctx context.Context, r *msgRecord) error {
	return s.writeAll(ctx, []*msgRecord{r})[0]
}

func (s *Store) writeAll(ctx context.Context, rs []*msgRecord) []error {
	errs := make([]error, len(rs))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		s.mu.Lock()
		var busy chan struct{}
		for _, r := range rs {
			if ch, ok := s.msgBusy[r.k]; ok {
				busy = ch
				break
			}
		}
		if busy != nil {
			s.mu.Unlock()
			select {
			case <-busy:
				continue
			case <-ctx.Done():
				return fail(ctx.Err())
			}
		}
		todo := make([]int, 0, len(rs))
		for i, r := range rs {
			noop, err := s.inbox.checkNew(r)
			if errs[i] = err; err == nil && !noop {
				todo = append(todo, i)
			}
		}
		if len(todo) == 0 {
			s.mu.Unlock()
			return errs
		}
		// Other transitions of these messages wait until these are written
		// (or failed) and then check again.
		ch := make(chan struct{})
		for _, i := range todo {
			s.msgBusy[rs[i].k] = ch
		}
		s.mu.Unlock()

		err := s.appendMessages(&msgApply{s: s, rs: rs, todo: todo})

		s.mu.Lock()
		for _, i := range todo {
			delete(s.msgBusy, rs[i].k)
			if err != nil {
				errs[i] = err
			}
		}
		close(ch)
		s.mu.Unlock()
		return errs
	}
}

// msgApply applies the records rs[todo] to the inbox's index as the log
// makes them durable (wal.Applier): in the log's order, the order a
// restart rebuilds, so that a cursor of GET /deadletters names the same
// place in the list before and after one.
type msgApply struct {
	s    *Store
	rs   []*msgRecord
	todo []int
}

func (a *msgApply) Applied(j int, pos wal.Pos) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.inbox.apply(a.rs[a.todo[j]], pos)
	a.s.records++
}

// appendMessages appends the records a.rs[a.todo] in order, each applied
// to the index by a as soon as it is durable.
func (s *Store) appendMessages(a *msgApply) error {
	s.appendMu.RLock()
	defer s.appendMu.RUnlock()
	if len(a.todo) == 1 { // a claim, a release, one delivery: no batch to build
		bp := s.bufs.Get().(*[]byte)
		buf := encodeMessage((*bp)[:0], a.rs[a.todo[0]])
		_, err := s.log.AppendApply(buf, a)
		*bp = buf
		s.bufs.Put(bp)
		return err
	}
	bufs := make([][]byte, len(a.todo))
	for j, i := range a.todo {
		bufs[j] = encodeMessage(nil, a.rs[i])
	}
	_, err := s.log.AppendAllApply(bufs, a)
	return err
}

func (s *Store) entries(f MessageFilter) ([]msgEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.inbox.list(f)
}

func (s *Store) entry(k MessageKey) (msgEntry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.inbox.msgs[k]
	if !ok {
		return msgEntry{}, false
	}
	return *e, true
}

func (s *Store) payload(e *msgEntry) error {
	rec, err := s.log.ReadAt(e.pos)
	if err != nil {
		return err
	}
	r, err := decodeMessage(rec)
	if err != nil {
		return &CorruptError{Segment: s.log.SegmentPath(e.pos.Segment), Offset: e.pos.Offset, Reason: err.Error()}
	}
	e.msg.Payload = r.payload
	return nil
}

func (m *Memory) write(ctx context.Context, r *msgRecord) error {
	return m.writeAll(ctx, []*msgRecord{r})[0]
}

func (m *Memory) writeAll(ctx context.Context, rs []*msgRecord) []error {
	errs := make([]error, len(rs))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, r := range rs {
		if errs[i] = ctx.Err(); errs[i] != nil {
			continue
		}
		noop, err := m.inbox.checkNew(r)
		if errs[i] = err; err == nil && !noop {
			m.inbox.apply(r, wal.Pos{})
		}
	}
	return errs
}

func (m *Memory) entries(f MessageFilter) ([]msgEntry, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.inbox.list(f)
}

func (m *Memory) entry(k MessageKey) (msgEntry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.inbox.msgs[k]
	if !ok {
		return msgEntry{}, false
	}
	return *e, true
}

func (m *Memory) payload(*msgEntry) error { return nil }

func (m *Memory) reading(fn func() error) error { return fn() }

func (s *Store) reading(fn func() error) error {
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	return fn()
}
