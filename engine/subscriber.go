package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowgen/flowgen/runtime"
)

// subscriber is the runtime.Subscriber of generated flows on the engine.
// Their awaits (runtime.NewAwait, runtime.NewEvent) describe themselves on
// Subscribe's context (runtime.AwaitFrom), and are served like JSON flows'
// awaits: a message already in the inbox is claimed and handed over before
// Subscribe returns, otherwise the run parks (Subscribe fails with
// errParked and the engine's sink ends the run's goroutine) and is resumed
// from its history when its event or its timeout comes. Their events go
// through the inbox, so they are deduplicated and survive restarts.
//
// A Subscribe call that does not come from such an await (an await step
// with a per-attempt timeout, which only a blocking wait honours; a flow
// not registered on this engine, which nothing would resume; a Go step
// subscribing by hand) blocks its goroutine as a plain subscription does,
// still fed through the inbox.
type subscriber struct{ e *Engine }

// waiter is a blocking subscription: h applies the runtime's correlation
// rule and keeps the payload it accepts.
type waiter struct {
	key string
	h   func([]byte) bool
}

func (s subscriber) Subscribe(ctx context.Context, topic, event string, h func([]byte) bool) (func(), error) {
	e := s.e
	if err := e.in.consume(topic, event); err != nil {
		return nil, err
	}
	if w, ok := runtime.AwaitFrom(ctx); ok && w.Topic == topic && w.Event == event && w.Key != "" {
		if _, registered := e.flowEntry(w.Flow); registered {
			return s.serve(ctx, &w, h)
		}
	}
	a := e.aw
	k := teKey{topic, event}
	w := &waiter{key: runtime.IdempotencyKey(ctx), h: h}
	_, err := e.in.take(ctx, &takeReq{key: w.key, topic: topic, event: event, accept: h}, func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.blocking[k] = append(a.blocking[k], w)
		return errSubscribed
	})
	switch {
	case err == nil: // h has the payload
		return func() {}, nil
	case err != errSubscribed:
		return nil, err
	}
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		for i, x := range a.blocking[k] {
			if x == w {
				a.blocking[k] = append(a.blocking[k][:i:i], a.blocking[k][i+1:]...)
				return
			}
		}
	}, nil
}

var errSubscribed = errors.New("engine: subscribed")

// matchBlocking offers m to the blocking subscriptions of its topic/event,
// and returns the one that took it; a.mu and the inbox's lock are held.
func (a *awaits) matchBlocking(m *inMsg) *waiter {
	k := teKey{m.k.Topic, m.k.Event}
	for i, w := range a.blocking[k] {
		if w.h(m.payload) {
			a.blocking[k] = append(a.blocking[k][:i:i], a.blocking[k][i+1:]...)
			return w
		}
	}
	return nil
}

// serve gives the await w the message it takes (awaits.take), or parks its
// run.
func (s subscriber) serve(ctx context.Context, w *runtime.AwaitInfo, h func([]byte) bool) (func(), error) {
	wait := w.Timeout
	if d := w.Deadline; d > 0 && (wait == 0 || d < wait) {
		wait = d
	}
	m, err := s.e.aw.take(ctx, &awaitReq{flow: w.Flow, step: w.Step, key: w.Key, topic: w.Topic, event: w.Event,
		correlated: w.Correlated, field: w.CorrelationField, corr: w.Correlation, wait: wait})
	if err != nil {
		return nil, err
	}
	// h applies the runtime's correlation rule, as the inbox did: it refuses
	// a message taken for it only if the two disagree. The claim is given
	// back, so that the message can go to an await it fits.
	if !h(m.Payload) {
		if err := s.e.in.release(ctx, w.Key); err != nil {
			s.e.log.Error("releasing a refused message", "topic", m.Topic, "event", m.Event, "id", m.ID, "key", w.Key, "error", err)
		}
		return nil, runtime.Permanent(fmt.Errorf("engine: await %s refused message %s taken for it", w.Key, m.Key()))
	}
	return func() {}, nil
}
