package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/runtime"
)

// providerWait is a run waiting for a provider of its Go step.
type providerWait struct {
	key      handlerKey
	outcomes []string
	deliver  func(runtime.Delivery) bool
}

// waitFor serves the wait of a run whose Go step has no live provider
// (runtime.Subscriber for ProviderTopic): it is delivered at once if a
// handler is live now, else when a provider of it registers.
func (rm *remote) waitFor(k handlerKey, outcomes []string, deliver func(runtime.Delivery) bool) (func(), error) {
	rm.mu.Lock()
	if who, ok := rm.liveLocked(k, outcomes, rm.e.clock.Now()); ok {
		rm.mu.Unlock()
		deliver(runtime.Delivery{Payload: wakePayload(who)})
		return func() {}, nil
	}
	w := &providerWait{key: k, outcomes: outcomes, deliver: deliver}
	rm.waits[k] = append(rm.waits[k], w)
	rm.mu.Unlock()
	return func() {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		list := rm.waits[k]
		if i := slices.Index(list, w); i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(rm.waits, k)
		} else {
			rm.waits[k] = list
		}
	}, nil
}

// wakeServed wakes the runs whose provider wait a handler serves now: an
// in-process one just registered (Registry.added).
func (rm *remote) wakeServed() {
	rm.mu.Lock()
	woken := rm.wakeLocked(rm.e.clock.Now())
	rm.mu.Unlock()
	rm.deliver(woken, "")
}

// served reports whether k is served now (liveLocked): the handlers
// view's provided.
func (rm *remote) served(k handlerKey, outcomes []string) bool {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	_, ok := rm.liveLocked(k, outcomes, rm.e.clock.Now())
	return ok
}

// liveLocked reports who serves k now: an in-process handler, or a live
// provider that a call may go to (callableLocked: the pick's own test, so
// that a wait never ends for a call that would find no provider and wait
// again). The caller holds rm.mu.
func (rm *remote) liveLocked(k handlerKey, outcomes []string, now time.Time) (string, bool) {
	if rm.e.reg.has(k) {
		return "", true
	}
	if list := rm.callableLocked(k, outcomes, now); len(list) > 0 {
		return list[0].provider, true
	}
	return "", false
}

// wakeLocked takes the waits that a live handler serves now out of the
// index. Whether k is served is asked once per set of outcomes, not once
// per wait: every registration runs this under rm.mu, which each call
// takes too, and the runs waiting on one step, thousands of them while
// its provider is down, share the step's outcomes. The caller holds rm.mu.
func (rm *remote) wakeLocked(now time.Time) []*providerWait {
	var out []*providerWait
	for k, list := range rm.waits {
		live := map[string]bool{} // by the waits' outcomes, joined
		keep := list[:0]
		for _, w := range list {
			o := strings.Join(w.outcomes, "\x00")
			ok, asked := live[o]
			if !asked {
				_, ok = rm.liveLocked(k, w.outcomes, now)
				live[o] = ok
			}
			if ok {
				out = append(out, w)
			} else {
				keep = append(keep, w)
			}
		}
		if len(keep) == 0 {
			delete(rm.waits, k)
		} else {
			rm.waits[k] = keep
		}
	}
	return out
}

func (rm *remote) deliver(ws []*providerWait, who string) {
	for _, w := range ws {
		w.deliver(runtime.Delivery{Payload: wakePayload(who)})
	}
}

// wakePayload is the payload recorded when a provider wait ends: who
// serves the step now ("" for an in-process handler).
func wakePayload(who string) []byte {
	b, _ := json.Marshal(map[string]string{providerWakeProvider: who})
	return b
}

// providerSubscriber serves the provider waits of one JSON flow and hands
// every other wait to the engine's subscriber.
type providerSubscriber struct {
	next     runtime.Subscriber
	rm       *remote
	flow     string
	outcomes map[string][]string // Go step -> its declared outcomes
}

func (ps providerSubscriber) Subscribe(ctx context.Context, w runtime.Wait, deliver func(runtime.Delivery) bool) (func(), error) {
	switch w.Topic {
	case ProviderTopic:
		outs, ok := ps.outcomes[w.Event]
		if !ok {
			return nil, runtime.Permanent(fmt.Errorf("engine: flow %q has no Go step %q served by providers", ps.flow, w.Event))
		}
		return ps.rm.waitFor(handlerKey{flow: ps.flow, name: w.Event}, outs, deliver)
	case ProviderRollbackTopic:
		return ps.rm.waitFor(handlerKey{flow: ps.flow, name: w.Event, rollback: true}, nil, deliver)
	}
	return ps.next.Subscribe(ctx, w, deliver)
}

// subscriber returns the Subscriber of JSON flow fl: its Go steps' provider
// waits here, every other wait to next.
func (rm *remote) subscriber(fl *dsl.Flow, next runtime.Subscriber) runtime.Subscriber {
	ps := providerSubscriber{next: next, rm: rm, flow: fl.Name, outcomes: map[string][]string{}}
	for _, s := range fl.Steps {
		if s != nil && s.IsGo() {
			ps.outcomes[s.Name] = declaredOutcomes(s)
		}
	}
	return ps
}
