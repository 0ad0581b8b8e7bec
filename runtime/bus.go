package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Caller makes the request of an RPC step. rsp is nil when the step keeps no
// response. IdempotencyKey(ctx) identifies the request across retries.
type Caller interface {
	Call(ctx context.Context, service, endpoint string, req, rsp any) error
}

// Publisher publishes the events of publish steps and Step.Publish.
type Publisher interface {
	Publish(ctx context.Context, topic, event string, payload any) error
}

// Subscriber hands events to waiting runs. A run that enters an await
// calls Subscribe with what it waits for (w, whose Key is the same after
// Resume, and for every wait of one visit of a step whose every attempt
// waits: Await.EachAttempt) and holds no goroutine until deliver takes a
// message. deliver may
// be called from any goroutine, before Subscribe returns (an event that came
// first), and does not block; it returns true when the run took the message
// (its payload is JSON, matches w, and the run still waited), and false
// otherwise, in which case the message stays the subscriber's to give to
// another wait (or, a payload that is not JSON, to dead-letter: no run
// takes it).
// The run calls cancel once it stops waiting, whatever woke it (the event,
// its deadline, an abort), once. At the wait's deadline it calls cancel
// first, then ends the wait with the outcome "timeout" if nothing woke it
// meanwhile: a Subscriber that is handing over an event it received in time
// (Delivery.Received; a durable claim in flight) may deliver it before
// cancel returns, and the event wins. An error from Subscribe ends the wait
// with the outcome "error".
type Subscriber interface {
	Subscribe(ctx context.Context, w Wait, deliver func(Delivery) bool) (cancel func(), err error)
}

// Delivery is an event a Subscriber hands a waiting run.
type Delivery struct {
	Payload json.RawMessage
	// Link is the W3C traceparent of the span that sent the event (the API
	// request that posted it, the step that published it), when the
	// subscriber knows it; "" otherwise. The run records it in the event
	// that ends its wait (Event.Link), and an observer links the wait to it.
	Link string
	// Received is when the subscriber accepted the event durably (an
	// engine's inbox records it), when it knows; zero otherwise. A wait
	// with a deadline takes only an event received before it
	// (Wait.InTime), however late the run hears of either: after a
	// restart over the deadline, the recorded times decide, not which of
	// the expired timer and the delivery comes first. A zero Received is
	// when the run hears of it, on the flow's clock: taken while the run
	// waits and its deadline has not passed, refused by a run resumed
	// after its deadline.
	Received time.Time
}

// MemoryHandler serves one endpoint of a MemoryCaller: it gets the request
// as JSON and returns a value that is JSON-encoded into the caller's response.
type MemoryHandler func(ctx context.Context, req json.RawMessage) (rsp any, err error)

// HandleFunc adapts a typed function to a MemoryHandler.
func HandleFunc[Req, Rsp any](fn func(ctx context.Context, req Req) (Rsp, error)) MemoryHandler {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var req Req
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, Permanent(fmt.Errorf("decoding request: %w", err))
			}
		}
		return fn(ctx, req)
	}
}

// MemoryCaller is an in-process Caller for tests and examples. Requests and
// responses go through JSON, as they would over a wire, so a test sees the
// same copying semantics as a real service.
type MemoryCaller struct {
	mu       sync.Mutex
	handlers map[[2]string]MemoryHandler
	calls    []Call
}

// Call is one request a MemoryCaller served.
type Call struct {
	Service, Endpoint string
	Key               string // IdempotencyKey of the caller's context
	Request           json.RawMessage
	Err               string
}

// NewMemoryCaller returns a MemoryCaller with no handlers.
func NewMemoryCaller() *MemoryCaller {
	return &MemoryCaller{handlers: make(map[[2]string]MemoryHandler)}
}

// Handle registers the handler of service/endpoint, replacing any other.
func (c *MemoryCaller) Handle(service, endpoint string, h MemoryHandler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers[[2]string{service, endpoint}] = h
}

// Call implements Caller. A missing handler is a permanent error.
func (c *MemoryCaller) Call(ctx context.Context, service, endpoint string, req, rsp any) error {
	raw, err := json.Marshal(Addressed(req)) // a value: its pointer methods too
	if err != nil {
		return Permanent(fmt.Errorf("encoding request to %s %s: %w", service, endpoint, err))
	}
	c.mu.Lock()
	h := c.handlers[[2]string{service, endpoint}]
	c.mu.Unlock()
	call := Call{Service: service, Endpoint: endpoint, Key: IdempotencyKey(ctx), Request: raw}
	defer func() {
		c.mu.Lock()
		c.calls = append(c.calls, call)
		c.mu.Unlock()
	}()
	if h == nil {
		err := Permanent(fmt.Errorf("%w: no handler for %s %s", ErrNotConfigured, service, endpoint))
		call.Err = err.Error()
		return err
	}
	out, err := h(ctx, raw)
	if err != nil {
		call.Err = err.Error()
		return err
	}
	if rsp == nil {
		return nil
	}
	b, err := json.Marshal(Addressed(out))
	if err == nil {
		err = json.Unmarshal(b, rsp)
	}
	if err != nil {
		err = Permanent(fmt.Errorf("response of %s %s: %w", service, endpoint, err))
		call.Err = err.Error()
	}
	return err
}

// Calls returns the requests served so far, in order.
func (c *MemoryCaller) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// Message is one event published on a MemoryBus.
type Message struct {
	Topic, Event string
	Payload      json.RawMessage
}

// MemoryBus is an in-process Publisher and Subscriber. A published payload
// goes to the first subscriber of its topic and event that consumes it; when
// none does it is kept and offered to later subscribers, so an event
// published before a step awaits it is not lost. Handlers run with the bus
// locked and must not call back into it. It keeps every payload published
// (Published) and every one nobody took, without a bound, and nothing
// survives the process: a bus for tests and examples, not for a service,
// which takes an embedded engine's (engine.Engine.RuntimeOptions).
type MemoryBus struct {
	mu        sync.Mutex
	subs      map[[2]string][]*memorySub
	pending   map[[2]string][]json.RawMessage
	published []Message
}

type memorySub struct {
	h func(Delivery) bool
}

// NewMemoryBus returns an empty bus.
func NewMemoryBus() *MemoryBus {
	return &MemoryBus{
		subs:    make(map[[2]string][]*memorySub),
		pending: make(map[[2]string][]json.RawMessage),
	}
}

// Publish implements Publisher: the payload is JSON-encoded.
func (b *MemoryBus) Publish(ctx context.Context, topic, event string, payload any) error {
	raw, err := json.Marshal(Addressed(payload))
	if err != nil {
		return Permanent(fmt.Errorf("encoding %s %s: %w", topic, event, err))
	}
	k := [2]string{topic, event}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published = append(b.published, Message{Topic: topic, Event: event, Payload: raw})
	for _, s := range b.subs[k] {
		if s.h(Delivery{Payload: raw}) {
			return nil
		}
	}
	b.pending[k] = append(b.pending[k], raw)
	return nil
}

// Subscribe implements Subscriber. Kept payloads are offered at once.
func (b *MemoryBus) Subscribe(ctx context.Context, w Wait, h func(Delivery) bool) (func(), error) {
	k := [2]string{w.Topic, w.Event}
	s := &memorySub{h: h}
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.pending[k][:0]
	for _, p := range b.pending[k] {
		if !h(Delivery{Payload: p}) {
			kept = append(kept, p)
		}
	}
	b.pending[k] = kept
	b.subs[k] = append(b.subs[k], s)
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.subs[k] = slices.DeleteFunc(b.subs[k], func(p *memorySub) bool { return p == s })
	}, nil
}

// Published returns every payload published so far, in order.
func (b *MemoryBus) Published() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.published)
}
