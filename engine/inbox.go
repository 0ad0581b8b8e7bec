package engine

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/flowgen/flowgen/internal/ratelog"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// The inbox keeps the events that runs await, durably, until a run takes
// them.
//
// Awaited events arrive through the broker (one consumer per topic/event,
// named after the engine, so every engine sees every event) and are first
// recorded in the store (InboxStore.PutMessage): a message is identified by
// its topic, event and ID together, and one seen before is not applied
// again. A new message is offered to what waits for its topic/event (the
// parked runs: the offer hook); if one takes it,
// the message is reserved for its idempotency key, else it stays pending,
// by topic/event (and by value at the fields awaits correlate on:
// tePending), for the next await that matches it (an event that comes
// before its run reaches the await is not lost).
//
// An await takes a message by claiming it durably (message -> the await's
// idempotency key) before it applies it: a message claimed for key K is
// handed to K again after a crash between the claim and the run recording
// the step's end, and to nobody else. A claim not used is released.
//
// Nothing is kept forever: a pending message nobody takes expires after the
// retention (Options.InboxRetention, from its arrival), a claimed one after
// the retention from its claim, a dead letter after
// Options.DeadLetterRetention; expiry is recorded, and an expired message is
// never delivered. A message that can never be applied (a payload that
// cannot start its flow's run) is dead-lettered with a reason instead of
// being redelivered forever.
//
// Locks: the inbox's mutex is taken before the waits' (waits.mu: the offer
// hook and take's none callback run under it), never after.

// InboxStore is what the engine's inbox needs of a store: *store.Store and
// *store.Memory implement it (see runtime/store's inbox).
type InboxStore interface {
	PutMessage(ctx context.Context, m store.Message) (store.Message, bool, error)
	PutMessages(ctx context.Context, ms []store.Message) ([]store.Message, []bool, error)
	ClaimMessage(ctx context.Context, k store.MessageKey, key string, at time.Time) error
	ReleaseMessage(ctx context.Context, k store.MessageKey, key string, at time.Time) error
	DeadLetter(ctx context.Context, m store.Message, reason string, at time.Time) error
	ExpireMessage(ctx context.Context, k store.MessageKey, from store.MessageState, at time.Time) error
	GetMessage(k store.MessageKey) (store.Message, bool, error)
	Messages(f store.MessageFilter) ([]store.Message, error)
}

// Defaults of Options.InboxRetention, Options.DeadLetterRetention and
// Options.InboxBytes.
const (
	// DefaultInboxRetention keeps an event nobody awaits yet for a day: long
	// enough for the runs of a working day to reach their awaits, short
	// enough that a stray event does not complete an unrelated run started
	// days later.
	DefaultInboxRetention = 24 * time.Hour
	// DefaultDeadLetterRetention keeps dead letters a week, for an operator
	// to see them after a weekend.
	DefaultDeadLetterRetention = 7 * 24 * time.Hour
	// DefaultInboxBytes, as the in-process broker's DefaultBrokerBytes: a
	// day of events nobody awaits, a client's or a stray publisher's,
	// cannot take the process's memory.
	DefaultInboxBytes = 256 << 20
	// DefaultMaxDeadLetters keeps enough dead letters to see what went
	// wrong, and bounds what a publisher flooding a topic with payloads
	// that cannot be applied holds for DeadLetterRetention: each costs an
	// entry in the inbox's index and the store's (about InboxMessageOverhead
	// with its topic, event and ID: some 6 MiB in all), and its
	// payload on the store's disk.
	DefaultMaxDeadLetters = 10000
)

type msgState uint8

const (
	msgPending  msgState = iota
	msgReserved          // promised to a key, in memory only (the store has it pending)
	msgClaimed
	msgDead
)

// inMsg is what the inbox keeps in memory of a message.
type inMsg struct {
	k        store.MessageKey
	payload  json.RawMessage // pending and reserved only: read back from the store otherwise
	received time.Time
	link     string // the sender's traceparent (store.Message.Link)
	state    msgState
	by       string // reserved or claimed for this key
	expires  time.Time
	hi       int // index in the expiry heap

	// the pending messages of its topic/event while it is one (tePending),
	// or the dead letters while it is one (inbox.dead): never both
	prev, next *inMsg
	corrs      []corrValue // the payload's values at the fields compared so far (correlation)
}

// corrValue is a payload's value at a field (corrKey), as
// runtime.Correlation gives it.
type corrValue struct {
	field, value string
	ok           bool
}

// corrKey is how the indexes name a correlation field: "" for
// runtime.CorrelationField, whether a flow names it or not.
func corrKey(field string) string {
	if field == runtime.CorrelationField {
		return ""
	}
	return field
}

// correlation is the payload's value at field ("": runtime.CorrelationField),
// as awaits compare it (runtime.Correlation), computed once per message and
// field (a field is a flow's correlate_on path: there are few). The inbox's
// mutex is held.
func (m *inMsg) correlation(field string) (string, bool) {
	field = corrKey(field)
	for _, c := range m.corrs {
		if c.field == field {
			return c.value, c.ok
		}
	}
	v, ok := runtime.Correlation(m.payload, field)
	m.corrs = append(m.corrs, corrValue{field, v, ok})
	return v, ok
}

// setPayload sets m's payload (nil while it is claimed or dead: the store
// keeps it), counts it in in.bytes, and drops the values read from the one
// before. m is not pending (its place in the index is by those values).
// The inbox's mutex is held.
func (in *inbox) setPayload(m *inMsg, p json.RawMessage) {
	in.bytes += room(m.k, p) - room(m.k, m.payload)
	m.payload, m.corrs = p, nil
}

// InboxMessageOverhead is what a message the inbox holds for runs to take
// counts against Options.InboxBytes beside its payload, topic, event and
// ID: about what its record, its places in the inbox's indexes and the
// store's index entry take in memory. Counting payloads alone let a flood
// of tiny events (POST /events with {}) hold gigabytes under the default
// bound: 2 bytes each counted, some 500 held.
const InboxMessageOverhead = 512

// room is what a message k with payload p counts against
// Options.InboxBytes while the inbox holds its payload; nothing once it
// does not (claimed or dead: the store keeps it).
func room(k store.MessageKey, p json.RawMessage) int64 {
	if p == nil {
		return 0
	}
	return int64(len(p)+len(k.Topic)+len(k.Event)+len(k.ID)) + InboxMessageOverhead
}

func (m *inMsg) message() store.Message {
	return store.Message{Topic: m.k.Topic, Event: m.k.Event, ID: m.k.ID, Payload: m.payload, Received: m.received, Link: m.link}
}

// takeReq is what an await asks the inbox for.
type takeReq struct {
	key          string // the await's idempotency key
	topic, event string
	correlated   bool
	field, value string // the payload path ("": correlation_id) and the value it must have
}

func (r *takeReq) matches(m *inMsg) bool {
	if r.correlated {
		if v, ok := m.correlation(r.field); !ok || v != r.value {
			return false
		}
	}
	return true
}

// offerFunc is the offer hook: it is called, under the inbox's lock, with
// each message that becomes pending (it arrived, or a reservation or claim
// was given back). It returns the key the message is reserved for ("": it
// stays pending) and what to do once the lock is released (wake the run).
type offerFunc func(m *inMsg) (key string, then func())

type inbox struct {
	st       InboxStore
	clock    runtime.Clock
	log      *slog.Logger
	keep     time.Duration
	keepDead time.Duration
	broker   Broker
	consumer string          // the broker consumer's name: every engine its own
	ctx      context.Context // of the broker consumers
	offer    offerFunc
	refuse   func(Message) string // Engine.undeliverable
	tel      Telemetry            // nil: none
	max      int64                // Options.InboxBytes
	maxDead  int                  // Options.MaxDeadLetters

	mu sync.Mutex
	// bytes is what the messages whose payloads the inbox holds in memory
	// (its pending and reserved ones) count (room); held, what receipts
	// under way have reserved (hold) for messages not recorded yet. Their
	// sum stays within max.
	bytes, held int64
	// holds are the receipts' holds by message, so that a message held
	// twice (POST /events receives the event it also publishes, and the
	// broker may bring that copy to the inbox's consumer meanwhile) takes
	// its room once, and that a message recorded while held counts once,
	// in bytes, rather than in bytes and held until its receipts end.
	holds map[store.MessageKey]*heldRoom

	msgs      map[store.MessageKey]*inMsg // every message of the inbox known here
	pending   map[teKey]*tePending
	reserved  map[string]*inMsg // by the key it is promised to
	claimed   map[string]*inMsg // by the key that claimed it
	expiry    msgHeap
	consumers map[teKey]func()
	stopped   bool
	// receiving are the receipts under way (record): stamped with their
	// received time, not offered to the waits yet. A wait cancelled at
	// its deadline lets those received before it be offered first
	// (landed).
	receiving map[*receipt]struct{}
	// dead are the dead letters, in the order they were dead-lettered
	// (linked by inMsg.prev and next), nDead their number: beyond
	// maxDead, the oldest are dropped early (trimDead), dropped of them
	// not logged yet (dropLog).
	dead           tePending
	nDead, dropped int
	dropLog        ratelog.Bound

	rearm chan struct{}
	quit  chan struct{}
	on    bool
	bg    sync.WaitGroup
}

func newInbox(e *Engine, st InboxStore) *inbox {
	keep, keepDead := e.opts.InboxRetention, e.opts.DeadLetterRetention
	if keep <= 0 {
		keep = DefaultInboxRetention
	}
	if keepDead <= 0 {
		keepDead = DefaultDeadLetterRetention
	}
	max := e.opts.InboxBytes
	if max <= 0 {
		max = DefaultInboxBytes
	}
	maxDead := e.opts.MaxDeadLetters
	if maxDead <= 0 {
		maxDead = DefaultMaxDeadLetters
	}
	return &inbox{
		st: st, clock: e.clock, log: e.log, keep: keep, keepDead: keepDead, max: max, maxDead: maxDead,
		broker: e.broker, consumer: "await-" + e.opts.ID, ctx: e.baseCtx, tel: e.opts.Telemetry, refuse: e.undeliverable,
		msgs:      map[store.MessageKey]*inMsg{},
		holds:     map[store.MessageKey]*heldRoom{},
		pending:   map[teKey]*tePending{},
		reserved:  map[string]*inMsg{},
		claimed:   map[string]*inMsg{},
		consumers: map[teKey]func(){},
		receiving: map[*receipt]struct{}{},
		dropLog:   ratelog.Bound{Burst: 1, Interval: DeadLetterDropLogInterval},
		rearm:     make(chan struct{}, 1),
		quit:      make(chan struct{}),
	}
}

func (in *inbox) now() time.Time { return in.clock.Now().Round(0) }

// load rebuilds the inbox's index from the store (on Start): pending
// messages with their payloads, claimed ones by key, dead ones for their
// expiry. Messages already past their retention expire at once. Only the
// pending messages' payloads are read: the claimed ones of the retention
// and the dead letters of theirs could be far more than Options.InboxBytes, and
// the inbox keeps none of their payloads.
func (in *inbox) load(context.Context) error {
	ms, err := in.st.Messages(store.MessageFilter{NoPayload: true})
	if err != nil {
		return fmt.Errorf("engine: loading the inbox: %w", err)
	}
	// A store kept more dead letters than the bound (a bound lowered since,
	// or engines sharing it): the oldest go now.
	defer in.trimDead()
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := range ms {
		if ms[i].State == store.MessagePending {
			m, ok, err := in.st.GetMessage(ms[i].Key())
			if err != nil {
				return fmt.Errorf("engine: loading the inbox: %w", err)
			}
			if !ok {
				continue // expired meanwhile, by an engine sharing the store
			}
			ms[i] = m
		}
		m := &inMsg{k: ms[i].Key(), received: ms[i].Received, link: ms[i].Link, hi: -1}
		in.msgs[m.k] = m
		in.place(m, &ms[i])
	}
	return nil
}

// place indexes m as the store has it (sm), with the expiry its state
// gives it. in.mu is held.
func (in *inbox) place(m *inMsg, sm *store.Message) {
	m.by = ""
	in.setPayload(m, nil)
	switch sm.State {
	case store.MessagePending:
		m.state = msgPending
		in.setPayload(m, sm.Payload)
		in.addPending(m)
		in.setExpiry(m, sm.Received.Add(in.keep))
	case store.MessageClaimed:
		m.state, m.by = msgClaimed, sm.ClaimedBy
		if in.claimed[m.by] == nil {
			in.claimed[m.by] = m
		}
		in.setExpiry(m, sm.Updated.Add(in.keep))
	default:
		m.state = msgDead
		in.addDead(m)
		in.setExpiry(m, sm.Updated.Add(in.keepDead))
	}
}

// consume makes sure the engine receives topic/event; started says that
// this call started its consumer (none was there), which unconsume stops
// if what asked for it is undone.
func (in *inbox) consume(topic, event string) (started bool, err error) {
	k := teKey{topic, event}
	in.mu.Lock()
	if _, ok := in.consumers[k]; ok || in.stopped {
		in.mu.Unlock()
		return false, nil
	}
	in.consumers[k] = func() {}
	in.mu.Unlock()
	var stop func()
	if bb, ok := in.broker.(BatchBroker); ok {
		stop, err = bb.ConsumeBatch(in.ctx, in.consumer, topic, event, InboxBatch, observeDeliveries(in.tel, in.receiveAll))
	} else {
		stop, err = in.broker.Consume(in.ctx, in.consumer, topic, event, observeDelivery(in.tel, in.receiveOne))
	}
	in.mu.Lock()
	if err != nil {
		delete(in.consumers, k)
		in.mu.Unlock()
		return false, fmt.Errorf("engine: consuming %s %s: %w", topic, event, err)
	}
	if in.stopped {
		// stop came meanwhile and found the placeholder: the consumer
		// stops here, else it would outlive the engine's Close.
		delete(in.consumers, k)
		in.mu.Unlock()
		stop()
		return false, nil
	}
	in.consumers[k] = stop
	in.mu.Unlock()
	return true, nil
}

// unconsume stops the consumers of keys, which consume started for a
// registration that was then refused (Engine.attach): the engine consumes
// again only what it consumed before. Messages the consumers applied
// meanwhile stay in the inbox, pending, until they expire.
func (in *inbox) unconsume(keys []teKey) {
	var stops []func()
	in.mu.Lock()
	for _, k := range keys {
		if s, ok := in.consumers[k]; ok {
			stops = append(stops, s)
			delete(in.consumers, k)
		}
	}
	in.mu.Unlock()
	for _, s := range stops {
		s()
	}
}

// consumes reports whether the engine receives topic/event for awaits.
func (in *inbox) consumes(topic, event string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	_, ok := in.consumers[teKey{topic, event}]
	return ok
}

// InboxBatch is the most awaited events the inbox takes from a broker at
// once (a BatchBroker) and records with one sync. It bounds what a
// consumer holds: at most InboxBatch payloads (each at most the broker's,
// or Options.MaxBody through POST /events).
const InboxBatch = 64

// ErrTooLarge: the event counts more in the inbox than all it may hold
// (Options.InboxBytes), and could never be received (HTTP 413); a Broker
// wraps it for a message it can never carry (natsbus: larger than the
// NATS server's max_payload), which a publish step does not retry. Its
// class (runtime.ErrorClass, a failed span's error.type) is
// "message_too_large".
var ErrTooLarge = runtime.WithErrorType("message_too_large", errors.New("engine: too large for the inbox"))

// tooLarge is ErrTooLarge, saying by how much, for an event m that counts
// more than the bound alone; nil for one that fits an empty inbox.
func (in *inbox) tooLarge(m Message) error {
	return InboxTooLarge(m, in.max, inboxBytesKnob)
}

// inboxBytesKnob names the engine's setting of its inbox's bound, in its
// errors.
const inboxBytesKnob = "Options.InboxBytes, -inbox-bytes"

// InboxRoom is what m counts against the bound of an inbox that holds it
// for runs to take (Options.InboxBytes): its payload, topic, event and ID,
// and InboxMessageOverhead. Another inbox of the engine's events
// (temporal/jsonflows') counts by it too.
func InboxRoom(m Message) int64 { return room(m.key(), m.Payload) }

// InboxTooLarge is ErrTooLarge, saying by how much, for an event m that
// counts (InboxRoom) more than max, all an inbox may hold, whose setting
// knob names; nil for one that fits an empty inbox.
func InboxTooLarge(m Message, max int64, knob string) error {
	if r := InboxRoom(m); r > max {
		return fmt.Errorf("%w: the event counts %d bytes in the inbox, more than all it may hold, %d (%s)", ErrTooLarge, r, max, knob)
	}
	return nil
}

// InboxFull is ErrInboxFull for an inbox whose events hold holds bytes,
// at most max by its setting knob.
func InboxFull(holds, max int64, knob string) error {
	return fmt.Errorf("%w: its events nobody has taken yet hold %d bytes, at most %d (%s)", ErrInboxFull, holds, max, knob)
}

// ErrInboxFull: the payloads of the events the inbox holds for runs to
// take would pass Options.InboxBytes (HTTP 429 with Retry-After; from the
// broker, the event is delivered again later).
var ErrInboxFull = errors.New("engine: the inbox is full")

// heldRoom is the room held for one message (inbox.holds).
type heldRoom struct {
	holders int   // receipts under way that hold it
	size    int64 // what it counts (room)
	landed  bool  // recorded: its size moved from held to bytes
}

// hold reserves room in the inbox's bound for msgs, about to be received,
// or fails with ErrInboxFull; release gives it back once they are. A
// message someone else holds already takes no more room; one recorded
// meanwhile counts in in.bytes from then on (land).
func (in *inbox) hold(msgs []Message) (release func(), err error) {
	n, release := in.holdPrefix(msgs)
	if n < len(msgs) {
		release()
		return nil, in.full()
	}
	return release, nil
}

// full is ErrInboxFull, with what the inbox holds.
func (in *inbox) full() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return InboxFull(in.bytes+in.held, in.max, inboxBytesKnob)
}

// holdPrefix is hold of the longest prefix of msgs whose room the bound
// has, msgs[:n]: a broker's batch that does not fit whole is received a
// part at a time (receiveAll), rather than refused whole forever when
// it alone is more than the bound.
func (in *inbox) holdPrefix(msgs []Message) (n int, release func()) {
	in.mu.Lock()
	defer in.mu.Unlock()
	var need int64
	for ; n < len(msgs); n++ {
		k := msgs[n].key()
		if in.holds[k] != nil || slices.ContainsFunc(msgs[:n], func(o Message) bool { return o.key() == k }) {
			continue
		}
		r := room(k, msgs[n].Payload)
		if in.bytes+in.held+need+r > in.max {
			break
		}
		need += r
	}
	keys := make([]store.MessageKey, n)
	for i, m := range msgs[:n] {
		keys[i] = m.key()
		h := in.holds[keys[i]]
		if h == nil {
			h = &heldRoom{size: room(keys[i], m.Payload)}
			in.holds[keys[i]] = h
			in.held += h.size
		}
		h.holders++
	}
	return n, sync.OnceFunc(func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		for _, k := range keys {
			h := in.holds[k]
			if h.holders--; h.holders > 0 {
				continue
			}
			if !h.landed {
				in.held -= h.size
			}
			delete(in.holds, k)
		}
	})
}

// land moves the room held for the message k, just recorded, from held to
// bytes, where setPayload counts it: once. in.mu is held.
func (in *inbox) land(k store.MessageKey) {
	if h := in.holds[k]; h != nil && !h.landed {
		in.held -= h.size
		h.landed = true
	}
}

// key is m's key in the inbox: its topic, event and ID.
func (m *Message) key() store.MessageKey {
	return store.MessageKey{Topic: m.Topic, Event: m.Event, ID: m.ID}
}

// receive handles an awaited event from the broker, or from the engine's
// door for events (PublishEvent): record it (once per topic, event and ID),
// then offer it. It returns nil only once the event is durable in the
// inbox.
func (in *inbox) receive(ctx context.Context, msg Message) error {
	return in.record(ctx, []Message{msg})
}

// receiveOne is receiveAll of one message: the handler of a broker that
// delivers one at a time. (receive is the engine's door's, PublishEvent,
// which has checked the message and held its room.)
func (in *inbox) receiveOne(ctx context.Context, msg Message) error {
	return in.receiveAll(ctx, []Message{msg})
}

// receiveAll receives msgs, in order, recorded together: the handler of
// the broker's batches (BatchBroker).
func (in *inbox) receiveAll(ctx context.Context, msgs []Message) error {
	// A payload that is not JSON or too deep for a run's state to hold
	// (payloadError), or one a flow it triggers cannot start from
	// (PublishEvent refuses them; a broker may bring them), is
	// dead-lettered rather than delivered; so is one whose ID is outside
	// the rule of POST /events' IDs, under an ID within it
	// (deliveredIDProblem). Copies of messages the inbox has are
	// acknowledged as they are (record skips them), and need no room.
	in.mu.Lock()
	fresh := make([]Message, 0, len(msgs))
	reasons := make([]string, 0, len(msgs)) // fresh's, so far
	for _, msg := range msgs {
		reason := deliveredIDProblem(&msg)
		if _, known := in.msgs[msg.key()]; !known {
			fresh = append(fresh, msg)
			reasons = append(reasons, reason)
		}
	}
	in.mu.Unlock()
	kept := fresh[:0]
	for i, msg := range fresh {
		reason := reasons[i]
		if reason != "" {
			// dead-lettered under the ID it is known by
		} else if err := payloadError(msg.Payload); err != nil {
			reason = err.Error()
		} else {
			reason = in.refuse(msg)
		}
		if reason == "" {
			// It would wait for room forever, and the events behind it
			// on the broker with it. (refuse says so too while a flow
			// awaits its topic and event; the inbox's consumer may
			// outlive the await by a batch.)
			if err := in.tooLarge(msg); err != nil {
				reason = err.Error()
			}
		}
		if reason != "" {
			if err := in.deadLetter(ctx, msg, reason); err != nil {
				return err
			}
			continue
		}
		kept = append(kept, msg)
	}
	n, release := in.holdPrefix(kept)
	defer release()
	if err := in.record(ctx, kept[:n]); err != nil {
		return err
	}
	if n < len(kept) {
		// The broker delivers the batch again later: what was recorded
		// now is known then, and the rest is received as room comes
		// back (runs take events, events expire).
		return in.full()
	}
	return nil
}

// record records msgs, in order, together, then offers them: what
// receiveAll does once it holds room for them (PublishEvent holds it for
// its event before anything changes).
func (in *inbox) record(ctx context.Context, msgs []Message) error {
	news := make([]store.Message, 0, len(msgs))
	in.mu.Lock()
	// Stamped and counted under way together (landed): the received
	// time is recorded, and it decides against an await's deadline,
	// though the deadline may pass while the store records the message.
	now := in.now()
	r := &receipt{at: now, done: make(chan struct{})}
	in.receiving[r] = struct{}{}
	defer func() {
		in.mu.Lock()
		delete(in.receiving, r)
		in.mu.Unlock()
		close(r.done)
	}()
	for _, msg := range msgs {
		if _, known := in.msgs[msg.key()]; !known {
			news = append(news, store.Message{Topic: msg.Topic, Event: msg.Event, ID: msg.ID, Payload: msg.Payload, Received: now, Link: msg.Link})
		}
	}
	in.mu.Unlock()
	if len(news) == 0 {
		return nil
	}
	curs, _, err := in.st.PutMessages(ctx, news)
	if err != nil {
		return err
	}
	var thens []func()
	in.mu.Lock()
	for i := range curs {
		cur := &curs[i]
		// Recorded before (by this engine before a restart, or by another
		// engine sharing the inbox): only a message nobody took is news.
		if cur.State != store.MessagePending {
			continue
		}
		k := cur.Key()
		if _, known := in.msgs[k]; known || in.stopped {
			continue
		}
		m := &inMsg{k: k, received: cur.Received, link: cur.Link, hi: -1}
		in.land(k)
		in.setPayload(m, cur.Payload)
		in.msgs[k] = m
		in.setExpiry(m, cur.Received.Add(in.keep))
		if then := in.offerLocked(m); then != nil {
			thens = append(thens, then)
		}
	}
	in.mu.Unlock()
	for _, then := range thens {
		then()
	}
	return nil
}

// receipt is a record under way: when its messages are received.
type receipt struct {
	at   time.Time
	done chan struct{} // closed once its messages are offered (or it failed)
}

// landed returns once the receipts under way that were received before t
// have offered their messages to the waits (or failed). A wait cancelled
// at its deadline t calls it first: an event received before the
// deadline, whose store write was in flight when the deadline passed, is
// offered to the wait while it still waits, and wins (the run takes it:
// Wait.InTime), as it would after a crash and a restart, when the
// recorded times decide. A receipt stamped later is received at or after
// t: it does not hold the timeout up.
func (in *inbox) landed(t time.Time) {
	in.mu.Lock()
	var under []chan struct{}
	for r := range in.receiving {
		if r.at.Before(t) {
			under = append(under, r.done)
		}
	}
	in.mu.Unlock()
	for _, done := range under {
		<-done
	}
}

// offerLocked offers m, pending, to the offer hook: it is reserved for the
// key the hook names, or added to the pending messages. in.mu is held; the
// caller runs what it returns after unlocking.
func (in *inbox) offerLocked(m *inMsg) func() {
	m.state, m.by = msgPending, ""
	if !in.expires(m) && in.offer != nil {
		if key, then := in.offer(m); key != "" {
			m.state, m.by = msgReserved, key
			in.reserved[key] = m
			return then
		}
	}
	in.addPending(m)
	return nil
}

// expires reports whether m's retention is over (it is about to expire and
// must not be delivered). in.mu is held.
func (in *inbox) expires(m *inMsg) bool { return !in.clock.Now().Before(m.expires) }

// addPending makes m, which is not, the newest pending message of its
// topic/event. in.mu is held.
func (in *inbox) addPending(m *inMsg) {
	k := teKey{m.k.Topic, m.k.Event}
	p := in.pending[k]
	if p == nil {
		p = &tePending{}
		in.pending[k] = p
	}
	m.prev, m.next = p.tail, nil
	if p.tail != nil {
		p.tail.next = m
	} else {
		p.head = m
	}
	p.tail = m
	for f, vi := range p.byField {
		vi.add(m, f)
	}
}

// dropPending takes m out of the pending messages, if it is one. in.mu is
// held.
func (in *inbox) dropPending(m *inMsg) {
	k := teKey{m.k.Topic, m.k.Event}
	p := in.pending[k]
	if p == nil || (m.prev == nil && p.head != m) {
		return // not pending
	}
	if m.prev != nil {
		m.prev.next = m.next
	} else {
		p.head = m.next
	}
	if m.next != nil {
		m.next.prev = m.prev
	} else {
		p.tail = m.prev
	}
	m.prev, m.next = nil, nil
	if p.head == nil {
		delete(in.pending, k) // and its fields' indexes: m was all they held
		return
	}
	for f, vi := range p.byField {
		vi.drop(m, f)
	}
}

// take returns the message the await r takes, claimed for r.key: one
// claimed for it before (a crash or a failed attempt came between the claim
// and the step's end), the one reserved for it by the offer hook (the event
// that woke its run), or the oldest pending one it matches. When there is
// none, take calls none under the inbox's lock, so that a message arriving
// meanwhile is offered only after none has run (none parks the run, or
// registers a subscription, where the offer hook finds it), and returns
// none's error.
func (in *inbox) take(ctx context.Context, r *takeReq, none func() error) (store.Message, error) {
	for {
		in.mu.Lock()
		if m := in.claimed[r.key]; m != nil {
			in.mu.Unlock()
			return in.claimedMessage(m, r)
		}
		m := in.reserved[r.key]
		if m != nil && in.expires(m) {
			m = nil // expiring: not delivered
		}
		if m == nil {
			m = in.match(r)
		}
		if m == nil {
			err := none()
			in.mu.Unlock()
			return store.Message{}, err
		}
		in.mu.Unlock()
		got, err := in.claim(ctx, m, r.key)
		if !errors.Is(err, errLost) {
			return got, err
		}
		// Another engine took it, or it expired: look again.
	}
}

// claimedMessage reads back the payload of m, claimed for r.key.
func (in *inbox) claimedMessage(m *inMsg, r *takeReq) (store.Message, error) {
	sm, ok, err := in.st.GetMessage(m.k)
	switch {
	case err != nil:
		return store.Message{}, err
	case !ok || sm.State != store.MessageClaimed || sm.ClaimedBy != r.key:
		return store.Message{}, fmt.Errorf("engine: message %s claimed by %s is gone from the inbox", m.k, r.key)
	}
	return sm, nil
}

// match finds the oldest pending message r matches and reserves it for
// r.key: of those of r's value if r correlates (tePending.withValue), else
// of all. in.mu is held.
func (in *inbox) match(r *takeReq) *inMsg {
	p := in.pending[teKey{r.topic, r.event}]
	if p == nil {
		return nil
	}
	candidates := p.all
	if r.correlated {
		candidates = slices.Values(p.withValue(r.field, r.value))
	}
	for m := range candidates {
		if !in.expires(m) && r.matches(m) {
			in.dropPending(m)
			m.state, m.by = msgReserved, r.key
			in.reserved[r.key] = m
			return m
		}
	}
	return nil
}

// errLost: the message to claim went to another key (on another engine
// sharing the inbox) or expired.
var errLost = errors.New("engine: message taken by another engine, or expired")

// claim records durably that key takes m (reserved for it) and returns it,
// with its payload. It fails with errLost when the store has it claimed by
// another key or no longer has it (m is forgotten here); on another error m
// is pending again.
func (in *inbox) claim(ctx context.Context, m *inMsg, key string) (store.Message, error) {
	now := in.now()
	err := in.st.ClaimMessage(ctx, m.k, key, now)
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.reserved[key] == m {
		delete(in.reserved, key)
	}
	// Unless m moved meanwhile (expiring: its expiry finds it claimed
	// and reads it back). Not dead-lettered: the store dead-letters no
	// claimed message, and claims no dead one.
	still := m.state == msgReserved && m.by == key
	switch {
	case err == nil:
		got := m.message()
		m.state, m.by = msgClaimed, key
		in.setPayload(m, nil)
		in.claimed[key] = m
		in.setExpiry(m, now.Add(in.keep))
		return got, nil
	case errors.Is(err, store.ErrMessageState), errors.Is(err, store.ErrUnknownMessage):
		if still {
			in.forget(m)
		}
		return store.Message{}, errLost
	}
	if still {
		m.state, m.by = msgPending, ""
		in.addPending(m)
	}
	return store.Message{}, err
}

// unreserve gives back the message reserved for key and not claimed (the
// run it was for is no longer waiting for it): it is offered again.
func (in *inbox) unreserve(key string) {
	in.mu.Lock()
	m := in.reserved[key]
	if m == nil {
		in.mu.Unlock()
		return
	}
	delete(in.reserved, key)
	then := in.offerLocked(m)
	in.mu.Unlock()
	if then != nil {
		then()
	}
}

// release gives back durably the message claimed for key (its run did not
// take it after all): it is pending again, and offered again.
func (in *inbox) release(ctx context.Context, key string) error {
	in.mu.Lock()
	m := in.claimed[key]
	in.mu.Unlock()
	if m == nil {
		return nil
	}
	if err := in.st.ReleaseMessage(ctx, m.k, key, in.now()); err != nil {
		return err
	}
	sm, ok, err := in.st.GetMessage(m.k)
	if err != nil {
		return err
	}
	in.mu.Lock()
	if in.claimed[key] == m {
		delete(in.claimed, key)
	}
	if !ok || sm.State != store.MessagePending || in.msgs[m.k] != m {
		in.forget(m) // moved on meanwhile (another engine)
		in.mu.Unlock()
		return nil
	}
	in.setPayload(m, sm.Payload)
	in.setExpiry(m, m.received.Add(in.keep))
	then := in.offerLocked(m)
	in.mu.Unlock()
	if then != nil {
		then()
	}
	return nil
}

// unindex takes m out of the pending, reserved and claimed indexes. in.mu
// is held.
func (in *inbox) unindex(m *inMsg) {
	switch m.state {
	case msgPending:
		in.dropPending(m)
	case msgReserved:
		if in.reserved[m.by] == m {
			delete(in.reserved, m.by)
		}
	case msgClaimed:
		if in.claimed[m.by] == m {
			delete(in.claimed, m.by)
		}
	case msgDead:
		in.dropDead(m)
	}
}

// forget drops m from memory. in.mu is held.
func (in *inbox) forget(m *inMsg) {
	in.unindex(m)
	in.setPayload(m, nil) // after unindex, which reads its values
	if in.msgs[m.k] == m {
		delete(in.msgs, m.k)
	}
	if m.hi >= 0 {
		heap.Remove(&in.expiry, m.hi)
	}
}

// stop ends the consumers and the expiry loop.
func (in *inbox) stop() {
	in.mu.Lock()
	if in.stopped {
		in.mu.Unlock()
		return
	}
	in.stopped = true
	stops := make([]func(), 0, len(in.consumers))
	for _, s := range in.consumers {
		stops = append(stops, s)
	}
	in.mu.Unlock()
	for _, s := range stops {
		s()
	}
	close(in.quit)
	in.bg.Wait()
}
