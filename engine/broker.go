package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Message is one event on a broker.
type Message struct {
	// ID identifies the message: a message delivered twice (a publisher's
	// retry, a broker's redelivery) has the same ID, and the engine applies
	// it once. Publishers that do not set one get a unique ID.
	ID      string          `json:"id"`
	Topic   string          `json:"topic"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
	// Triggered names the flows whose event-trigger run for this message
	// its publisher has started already: the engine's door for events
	// (PublishEvent) starts them durably before it answers. A trigger
	// consumer of one of these flows acknowledges the message without
	// starting a run, so that engines sharing the broker, each with its
	// own store, start one run per message between them. Brokers carry it
	// (natsbus: the Flowgen-Triggered header).
	Triggered []string `json:"triggered,omitempty"`
	// Published is when the message was published, if the broker knows
	// (MemoryBroker, natsbus): the engine's broker lag metric
	// (Options.Telemetry) is the time from it to the message's receipt.
	Published time.Time `json:"-"`
	// Link is the W3C traceparent of the span that sent the message (the
	// API request that posted it, the step that published it), if known
	// (natsbus: its trace context headers): a run that awaits the message
	// records it, and links its wait's span to it (runtime.Delivery.Link).
	Link string `json:"-"`
}

// Broker carries events between engines and services: what flows publish,
// what event triggers start runs on, and what await steps wait for.
//
// Consume delivers every message of topic/event published after the call,
// and those held from before it (a broker may keep a topic's messages only
// while someone consumes it: MemoryBroker), to the consumers registered
// under name: consumers sharing a
// name share the messages (each goes to one of them, like a queue group);
// consumers with different names each get every message. A message is
// acknowledged when h returns nil; when h fails it is delivered again later
// (at least once). The engine names trigger consumers after the flow (one
// engine of a group starts each run) and await consumers after the engine
// (every engine sees every awaited event).
//
// stop ends the consumer and returns only once its handler has returned
// for the last time: no call of h is in progress, or starts, after stop
// returns. A delivery in progress when stop is called runs to its end
// (stop does not cancel its ctx) and is acknowledged or handed back as
// usual. The engine relies on it: its handlers start runs and write to
// the store, which Engine.Close's caller closes once Close has returned.
// So stop waits as long as h runs: a handler must return once its ctx (the
// one given to Consume) ends, and must not call its own consumer's stop;
// the engine calls stop holding none of the locks its handlers take, and
// cancels their ctx when Close's context ends.
//
// Publish returns once the broker holds m for its consumers. One that
// fails changed nothing, unless its error wraps ErrPublishUnknown: the
// broker may hold m, and its consumers then apply it; sent again with the
// same ID, it is applied once.
type Broker interface {
	Publish(ctx context.Context, m Message) error
	Consume(ctx context.Context, name, topic, event string, h func(ctx context.Context, m Message) error) (stop func(), err error)
}

// BatchBroker is a Broker that can also hand a consumer several messages of
// a topic/event at once. The inbox uses it when the broker has it
// (MemoryBroker and natsbus do): it records a batch of awaited events with
// one sync, where one message at a time costs a sync each, and a consumer
// of one still sees the events in order.
//
// ConsumeBatch registers a consumer under name as Consume does; h gets the
// messages waiting for it, at most max at a time, in the order of the
// stream. When h returns nil the batch is acknowledged. When it fails, the
// same batch is delivered again, before the messages that follow it (at
// least once, and in order for a group of one); a consumer that stops with
// a batch it could not apply hands the batch back to the group. Its stop
// waits for the batch in progress, as Consume's does for the message.
type BatchBroker interface {
	Broker
	ConsumeBatch(ctx context.Context, name, topic, event string, max int, h func(ctx context.Context, ms []Message) error) (stop func(), err error)
}

// brokerPublisher is the runtime.Publisher of the engine's flows: message
// IDs come from the idempotency key of the publishing step
// (runtime.PublicationID), so a step that runs again (a retry after its
// publication, a resume) publishes the same message and the receiving side
// applies it once.
type brokerPublisher struct {
	publish func(context.Context, Message) error // Broker.Publish, or the engine's PublishEvent with an Executor
	link    func(context.Context) string         // Message.Link of what a step publishes under ctx
	// span, with Telemetry, is called before each publication (publishing):
	// the message goes under the context it returns, as its sender.
	span func(ctx context.Context, topic, event, id string) (context.Context, func(error))
}

func (p brokerPublisher) Publish(ctx context.Context, topic, event string, payload any) (err error) {
	raw, ok := payload.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(runtime.Addressed(payload)) // a value: its pointer methods too
		if err != nil {
			return runtime.Permanent(fmt.Errorf("encoding %s %s: %w", topic, event, err))
		}
		raw = b
	}
	id := runtime.PublicationID(ctx, topic, event)
	switch {
	case id == "":
		id = runtime.NewID()
	case checkKey("message ID", id) != nil:
		// Longer than a message ID may be (a child run's, long names), or
		// with names beyond ASCII: its receivers, this engine's among
		// them, would dead-letter it (deliveredIDProblem). Its digest is
		// as stable across the step's runs.
		id = pubIDPrefix + digest(id)
	}
	if p.span != nil {
		var end func(error)
		ctx, end = p.span(ctx, topic, event, id)
		defer func() { end(err) }()
	}
	err = p.publish(ctx, Message{ID: id, Topic: topic, Event: event, Payload: raw, Link: p.link(ctx)})
	if errors.Is(err, ErrTooLarge) {
		// The broker can never carry it: another attempt is the same.
		return runtime.Permanent(err)
	}
	return err
}

// pubIDPrefix starts the message ID of a step's publication whose own
// (runtime.PublicationID) is outside the limits of message IDs.
const pubIDPrefix = "pub:"

// MemoryBroker is an in-process Broker: for tests, examples and a single
// engine process (`flowgen serve` without NATS). It is not durable.
//
// Its memory is bounded (docs/engine.md#limits):
//
//   - it keeps the messages of a topic/event only once some consumer was
//     registered for it (Consume): a message published to a topic/event
//     nobody consumes is dropped, counted (Dropped) and logged once per
//     topic/event (naming at most maxDropWarnings of them). On an engine,
//     the topics consumed are those of its flows' event triggers and
//     awaits; what flows publish for nobody (their publish steps' events,
//     with no NATS) goes nowhere, and an event posted for nobody (POST
//     /events: ErrNoConsumer) is dropped and counted here too;
//   - a message is released once every consumer name registered on its
//     topic/event has acknowledged it, so a consumer registered later gets
//     the messages still held, not every message ever published. A name
//     whose consumers all stopped keeps its messages (they are its
//     backlog when it consumes again, as a flow's trigger does once its
//     replacement is attached) until Forget drops it: the engine forgets
//     the trigger consumer of a flow whose new definition no longer has
//     that trigger;
//   - the messages held, in all, count at most MaxBytes (brokerRoom: their
//     payloads, IDs and names, and BrokerMessageOverhead each): beyond,
//     Publish fails with ErrBrokerFull, a retryable error (a publish step
//     retries it; POST /events answers 502 and changes nothing) until the
//     consumers catch up.
type MemoryBroker struct {
	mu      sync.Mutex
	streams map[[2]string]*memStream
	redo    time.Duration
	max     int64
	held    int64 // what the messages held count (brokerRoom)
	log     *slog.Logger
	dropped atomic.Uint64
	// warned are the topic/events whose dropped messages were logged, at
	// most maxDropWarnings of them; warnedAll, that more were dropped and
	// are not named.
	warned    map[[2]string]struct{}
	warnedAll bool
}

// maxDropWarnings bounds the topic/events whose dropped messages a
// MemoryBroker logs, one line each: their names are the publishers'
// (POST /events takes any), and neither the set that remembers them nor
// the log may grow with every name a client makes up.
const maxDropWarnings = 1024

// MemoryBrokerOptions configure a MemoryBroker; zero fields take their
// defaults.
type MemoryBrokerOptions struct {
	// MaxBytes bounds what the messages the broker holds for its
	// consumers count: their payloads, IDs and names, and
	// BrokerMessageOverhead each. Default DefaultBrokerBytes.
	MaxBytes int64
	// Logger is told the first time a topic/event is dropped.
	// Default: discard.
	Logger *slog.Logger
}

// DefaultBrokerBytes is the default MemoryBrokerOptions.MaxBytes: 256 MiB,
// 256 events of the largest body the HTTP API takes by default (MaxBody)
// waiting for a slow consumer.
const DefaultBrokerBytes = 256 << 20

// BrokerMessageOverhead is what a message the in-process broker holds
// counts against MemoryBrokerOptions.MaxBytes beside its payload, ID,
// names and trace link: about its record in the broker's memory. Counting
// payloads alone let a backlog of tiny events ({}: 2 bytes) take a hundred
// times the bound.
const BrokerMessageOverhead = 256

// brokerRoom is what m counts against MemoryBrokerOptions.MaxBytes while
// the broker holds it.
func brokerRoom(m *Message) int64 {
	n := len(m.Payload) + len(m.ID) + len(m.Topic) + len(m.Event) + len(m.Link)
	for _, f := range m.Triggered {
		n += len(f)
	}
	return int64(n) + BrokerMessageOverhead
}

// ErrBrokerFull: the broker holds as many messages as it may for consumers
// that have not acknowledged them yet (MemoryBroker: MaxBytes; natsbus: the
// JetStream stream's bounds), and refused this one: nothing was stored.
// Retry later. Its class (runtime.ErrorClass, a failed span's error.type)
// is "broker_full".
var ErrBrokerFull = runtime.WithErrorType("broker_full", errors.New("engine: broker full: its consumers are behind"))

// ErrPublishUnknown: the broker did not say whether it stored the message
// (natsbus: JetStream's acknowledgement lost, sent again for as long as
// natsbus.Options.PublishRetry and still lost): it may hold it, and then
// its consumers apply it. Send it again with the same ID (POST /events:
// the same Idempotency-Key), which is applied once. Its class
// (runtime.ErrorClass) is "publish_unknown".
var ErrPublishUnknown = runtime.WithErrorType("publish_unknown", errors.New("engine: the broker did not say whether it stored the message, which it then applies: send it again with the same ID (POST /events: the same Idempotency-Key)"))

type memStream struct {
	msgs   []Message
	base   int // the offset of msgs[0] since the stream began
	groups map[string]*memGroup
}

// memGroup is the consumers sharing one name on one stream. Each member
// takes one message at a time, so a group of n members has up to n
// messages in flight (the queue-group contract of Broker.Consume: an
// engine registers several consumers under one name to apply events
// concurrently, Options.EventWorkers); a group of one delivers in order.
// Offsets are acknowledged in any order: the stream keeps a message until
// every group has acknowledged it and everything before it.
type memGroup struct {
	b       *MemoryBroker
	s       *memStream
	next    int              // the lowest offset not acknowledged
	sent    int              // the next offset never handed to a member
	acked   map[int]struct{} // offsets acknowledged beyond next
	redo    []int            // offsets handed back by a member that stopped
	members []*memMember
	wake    chan struct{} // one idle member wakes; it wakes the next if more is left
}

type memMember struct {
	h    func(context.Context, []Message) error
	max  int // messages per delivery
	ctx  context.Context
	stop chan struct{}
	done chan struct{} // closed as its loop returns, with no delivery in progress
}

// NewMemoryBroker returns an empty in-process broker with the default
// options.
func NewMemoryBroker() *MemoryBroker { return NewMemoryBrokerWith(MemoryBrokerOptions{}) }

// NewMemoryBrokerWith returns an empty in-process broker.
func NewMemoryBrokerWith(o MemoryBrokerOptions) *MemoryBroker {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultBrokerBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &MemoryBroker{streams: map[[2]string]*memStream{}, redo: 20 * time.Millisecond, max: o.MaxBytes, log: o.Logger, warned: map[[2]string]struct{}{}}
}

// BrokerStats is what a MemoryBroker holds and has dropped.
type BrokerStats struct {
	// Dropped counts the messages published to a topic/event that nobody
	// consumed, since the broker was created: those published to the
	// broker, and the events an engine's PublishEvent (POST /events)
	// refused for it (ErrNoConsumer).
	Dropped uint64 `json:"dropped"`
	// Held is the number of messages held for consumers that have not
	// acknowledged them yet, HeldBytes what they count against
	// MemoryBrokerOptions.MaxBytes (brokerRoom).
	Held      int   `json:"held"`
	HeldBytes int64 `json:"held_bytes"`
}

// Stats returns what the broker holds and has dropped.
func (b *MemoryBroker) Stats() BrokerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, s := range b.streams {
		n += len(s.msgs)
	}
	return BrokerStats{Dropped: b.dropped.Load(), Held: n, HeldBytes: b.held}
}

// Publish implements Broker. A message without an ID gets one.
func (b *MemoryBroker) Publish(ctx context.Context, m Message) error {
	if m.ID == "" {
		m.ID = runtime.NewID()
	}
	if len(m.Payload) == 0 {
		m.Payload = json.RawMessage("null")
	}
	m.Published = time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]string{m.Topic, m.Event}
	s := b.streams[k]
	if s == nil || len(s.groups) == 0 {
		b.dropLocked(k)
		return nil
	}
	size := brokerRoom(&m)
	if b.held+size > b.max && b.held > 0 {
		return fmt.Errorf("%w: %d bytes held, at most %d", ErrBrokerFull, b.held, b.max)
	}
	b.held += size
	s.msgs = append(s.msgs, m)
	for _, g := range s.groups {
		g.signal()
	}
	return nil
}

// drop counts a message of topic/event k that nobody consumes, which the
// broker dropped, or an engine's PublishEvent refused (ErrNoConsumer):
// one rule, one count, one log line per topic/event, whichever door the
// message came by.
func (b *MemoryBroker) drop(k [2]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropLocked(k)
}

// dropLocked is drop with b.mu held.
func (b *MemoryBroker) dropLocked(k [2]string) {
	b.dropped.Add(1)
	b.warnDropped(k)
}

// warnDropped logs, once per topic/event k, that its messages are
// dropped. Past maxDropWarnings topic/events, it logs that it stops
// naming them. b.mu is held.
func (b *MemoryBroker) warnDropped(k [2]string) {
	if _, done := b.warned[k]; done || b.warnedAll {
		return
	}
	if len(b.warned) == maxDropWarnings {
		b.warnedAll = true
		b.log.Warn("in-process broker: messages of more topic/events without a consumer are dropped; no more of them are named (counted in the engine's stats)", "named", maxDropWarnings)
		return
	}
	b.warned[k] = struct{}{}
	b.log.Warn("in-process broker: nothing in this process consumes this topic/event, so its messages are dropped (POST /events answers 404 for them; counted in the engine's stats)", "topic", k[0], "event", k[1])
}

var _ BatchBroker = (*MemoryBroker)(nil)

// Consume implements Broker: each call adds a member to the group of
// name, with a goroutine of its own that delivers one message at a time;
// its stop returns once that goroutine has ended.
func (b *MemoryBroker) Consume(ctx context.Context, name, topic, event string, h func(context.Context, Message) error) (func(), error) {
	return b.ConsumeBatch(ctx, name, topic, event, 1, func(ctx context.Context, ms []Message) error { return h(ctx, ms[0]) })
}

// ConsumeBatch implements BatchBroker: each call adds a member to the group
// of name, with a goroutine of its own that delivers up to max messages at
// a time.
func (b *MemoryBroker) ConsumeBatch(ctx context.Context, name, topic, event string, max int, h func(context.Context, []Message) error) (func(), error) {
	if max < 1 {
		return nil, fmt.Errorf("engine: a batch of %d messages", max)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]string{topic, event}
	s := b.streams[k]
	if s == nil {
		s = &memStream{groups: map[string]*memGroup{}}
		b.streams[k] = s
	}
	g := s.groups[name]
	if g == nil {
		g = &memGroup{b: b, s: s, next: s.base, sent: s.base, acked: map[int]struct{}{}, wake: make(chan struct{}, 1)}
		s.groups[name] = g
	}
	m := &memMember{h: h, max: max, ctx: ctx, stop: make(chan struct{}), done: make(chan struct{})}
	g.members = append(g.members, m)
	go g.loop(m)
	g.signal()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			for i, x := range g.members {
				if x == m {
					g.members = append(g.members[:i:i], g.members[i+1:]...)
					break
				}
			}
			close(m.stop)
			b.mu.Unlock()
		})
		// Without b.mu: the delivery in progress takes it to acknowledge.
		<-m.done
	}, nil
}

// Forget drops the consumer name of topic/event if none of its consumers
// is left, with the messages it alone held: a consumer gone for good, whose
// backlog nobody will take, must not hold messages until MaxBytes is
// reached and every Publish fails. A name that has consumers is kept.
func (b *MemoryBroker) Forget(name, topic, event string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.streams[[2]string{topic, event}]
	if s == nil {
		return
	}
	if g := s.groups[name]; g != nil && len(g.members) == 0 {
		delete(s.groups, name)
		b.release(s)
	}
}

func (g *memGroup) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// release drops the messages of s that every group has acknowledged.
// b.mu is held.
func (b *MemoryBroker) release(s *memStream) {
	low := s.base + len(s.msgs)
	for _, g := range s.groups {
		low = min(low, g.next)
	}
	n := low - s.base
	if n <= 0 {
		return
	}
	for i := range n {
		b.held -= brokerRoom(&s.msgs[i])
		s.msgs[i] = Message{}
	}
	s.msgs = s.msgs[n:]
	s.base = low
	if len(s.msgs) == 0 {
		s.msgs = nil // let go of the backing array
	}
}

// take hands a member up to max messages, in order: those handed back
// first, else the next never handed out. It appends their offsets to offs
// and the messages to msgs. b.mu is held.
func (g *memGroup) take(max int, offs []int, msgs []Message) ([]int, []Message) {
	for len(offs) < max {
		var off int
		switch {
		case len(g.redo) > 0:
			off, g.redo = g.redo[0], g.redo[1:]
		case g.sent < g.s.base+len(g.s.msgs):
			off = g.sent
			g.sent++
		default:
			return offs, msgs
		}
		offs, msgs = append(offs, off), append(msgs, g.s.msgs[off-g.s.base])
	}
	if len(g.redo) > 0 || g.sent < g.s.base+len(g.s.msgs) {
		g.signal() // more for another idle member
	}
	return offs, msgs
}

// ack records that off is acknowledged and releases what every group has
// acknowledged. b.mu is held.
func (g *memGroup) ack(off int) {
	if off != g.next {
		g.acked[off] = struct{}{}
		return
	}
	g.next++
	for {
		if _, ok := g.acked[g.next]; !ok {
			break
		}
		delete(g.acked, g.next)
		g.next++
	}
	g.b.release(g.s)
}

// loop delivers messages to member m, up to m.max at a time, until it
// stops; a failed delivery is retried by m after a short pause (so a group
// of one delivers in order), and the messages m holds when it stops go back
// to the group.
func (g *memGroup) loop(m *memMember) {
	defer close(m.done)
	var offs []int
	var msgs []Message
	for {
		select {
		case <-m.stop:
			g.signal() // the wake it may have taken is another member's
			return
		default:
		}
		g.b.mu.Lock()
		offs, msgs = g.take(m.max, offs[:0], msgs[:0])
		g.b.mu.Unlock()
		if len(offs) == 0 {
			select {
			case <-g.wake:
				continue
			case <-m.stop:
				return
			}
		}
		for m.h(m.ctx, msgs) != nil {
			select {
			case <-time.After(g.b.redo):
				continue
			case <-m.stop:
				g.b.mu.Lock()
				g.redo = append(g.redo, offs...)
				slices.Sort(g.redo)
				g.signal()
				g.b.mu.Unlock()
				return
			}
		}
		g.b.mu.Lock()
		for _, off := range offs {
			g.ack(off)
		}
		g.b.mu.Unlock()
		clear(msgs) // let go of the payloads
	}
}
