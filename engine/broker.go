package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
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
}

// Broker carries events between engines and services: what flows publish,
// what event triggers start runs on, and what await steps wait for.
//
// Consume delivers every message of topic/event, published before or after
// the call, to the consumers registered under name: consumers sharing a
// name share the messages (each goes to one of them, like a queue group);
// consumers with different names each get every message. A message is
// acknowledged when h returns nil; when h fails it is delivered again later
// (at least once). The engine names trigger consumers after the flow (one
// engine of a group starts each run) and await consumers after the engine
// (every engine sees every awaited event).
type Broker interface {
	Publish(ctx context.Context, m Message) error
	Consume(ctx context.Context, name, topic, event string, h func(ctx context.Context, m Message) error) (stop func(), err error)
}

// brokerPublisher is the runtime.Publisher of the engine's flows: message
// IDs come from the idempotency key of the publishing step, so a step that
// runs again (a retry after its publication, a resume) publishes the same
// message and the receiving side applies it once.
type brokerPublisher struct{ b Broker }

func (p brokerPublisher) Publish(ctx context.Context, topic, event string, payload any) error {
	raw, ok := payload.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(payload)
		if err != nil {
			return runtime.Permanent(fmt.Errorf("encoding %s %s: %w", topic, event, err))
		}
		raw = b
	}
	id := runtime.IdempotencyKey(ctx)
	if id == "" {
		id = NewMessageID()
	} else {
		id += ">" + topic + "/" + event
	}
	return p.b.Publish(ctx, Message{ID: id, Topic: topic, Event: event, Payload: raw})
}

var (
	msgPrefix = func() string {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()
	msgCounter atomic.Uint64
)

// NewMessageID returns a message ID unique across processes.
func NewMessageID() string {
	return msgPrefix + "-" + strconv.FormatUint(msgCounter.Add(1), 10)
}

// MemoryBroker is an in-process Broker: for tests, examples and a single
// engine process (`flowgen serve` without NATS). It keeps every message of
// a topic/event in memory so that consumers registered later still get them;
// it is not durable.
type MemoryBroker struct {
	mu      sync.Mutex
	streams map[[2]string]*memStream
	redo    time.Duration
}

type memStream struct {
	msgs   []Message
	groups map[string]*memGroup
}

// memGroup is the consumers sharing one name on one stream, with the
// stream offset they have acknowledged up to.
type memGroup struct {
	b       *MemoryBroker
	s       *memStream
	next    int
	members []*memMember
	turn    int
	wake    chan struct{}
	stop    chan struct{}
	running bool
}

type memMember struct {
	h   func(context.Context, Message) error
	ctx context.Context
}

// NewMemoryBroker returns an empty in-process broker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{streams: map[[2]string]*memStream{}, redo: 20 * time.Millisecond}
}

func (b *MemoryBroker) stream(topic, event string) *memStream {
	k := [2]string{topic, event}
	s := b.streams[k]
	if s == nil {
		s = &memStream{groups: map[string]*memGroup{}}
		b.streams[k] = s
	}
	return s
}

// Publish implements Broker. A message without an ID gets one.
func (b *MemoryBroker) Publish(ctx context.Context, m Message) error {
	if m.ID == "" {
		m.ID = NewMessageID()
	}
	if len(m.Payload) == 0 {
		m.Payload = json.RawMessage("null")
	}
	m.Published = time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stream(m.Topic, m.Event)
	s.msgs = append(s.msgs, m)
	for _, g := range s.groups {
		g.signal()
	}
	return nil
}

// Consume implements Broker.
func (b *MemoryBroker) Consume(ctx context.Context, name, topic, event string, h func(context.Context, Message) error) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stream(topic, event)
	g := s.groups[name]
	if g == nil {
		g = &memGroup{b: b, s: s, wake: make(chan struct{}, 1)}
		s.groups[name] = g
	}
	m := &memMember{h: h, ctx: ctx}
	g.members = append(g.members, m)
	if !g.running {
		g.running = true
		g.stop = make(chan struct{})
		go g.loop(g.stop)
	}
	g.signal()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			for i, x := range g.members {
				if x == m {
					g.members = append(g.members[:i:i], g.members[i+1:]...)
					break
				}
			}
			if len(g.members) == 0 && g.running {
				g.running = false
				close(g.stop)
			}
		})
	}, nil
}

func (g *memGroup) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// loop delivers the group's messages in order, one at a time, each to the
// next member in turn; a failed delivery is retried after a short pause.
func (g *memGroup) loop(stop chan struct{}) {
	for {
		g.b.mu.Lock()
		if g.next >= len(g.s.msgs) || len(g.members) == 0 {
			g.b.mu.Unlock()
			select {
			case <-g.wake:
				continue
			case <-stop:
				return
			}
		}
		m := g.s.msgs[g.next]
		g.turn = (g.turn + 1) % len(g.members)
		mem := g.members[g.turn]
		g.b.mu.Unlock()
		if err := mem.h(mem.ctx, m); err != nil {
			select {
			case <-time.After(g.b.redo):
				continue
			case <-stop:
				return
			}
		}
		g.b.mu.Lock()
		g.next++
		g.b.mu.Unlock()
		select {
		case <-stop:
			return
		default:
		}
	}
}
