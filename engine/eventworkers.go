package engine

// Event triggers apply their events concurrently: the engine registers
// Options.EventWorkers consumers per event trigger, all under the
// trigger's one consumer name ("trigger-<flow>"), which the Broker
// contract makes a queue group: each message goes to one of them, and
// each consumer handles one message at a time. So up to EventWorkers runs
// of one trigger are being started at once, and their first events share
// the store's group commits, where one consumer waited for a sync per
// run (about 570 runs/s on the development machine; docs/benchmarks.md).
//
// What does not change: a message is acknowledged only once its run's
// first event is synced (or the run existed: the run ID derives from the
// message ID, so a redelivery starts nothing), and a start refused for
// Options.MaxRunning is delivered again later. Events of one trigger are
// no longer started in the order they were published; each is a run of
// its own, so nothing depended on it. The inbox's consumers (awaited
// events) stay one per topic/event, so awaits see their events in the
// order the broker delivers them.

import (
	"fmt"

	"github.com/flowgen/flowgen/runtime"
)

// DefaultEventWorkers is the default Options.EventWorkers: enough events
// in flight per trigger that their runs' first events fill the store's
// group commits, few enough to stay well under DefaultMaxRunning with a
// few event triggers.
const DefaultEventWorkers = 32

// eventWorkers is Options.EventWorkers (or its default), but at most the
// runs that may be in flight (Options.MaxRunning): a consumer beyond them
// could only have its start refused and its event delivered again, and
// each costs a goroutine (with NATS, a pull subscription) from the start:
// flowgen serve -event-workers 1000000 took 5 GB and stopped answering
// before it served a request.
func (e *Engine) eventWorkers() int {
	n := DefaultEventWorkers
	if e.opts.EventWorkers > 0 {
		n = e.opts.EventWorkers
	}
	return int(min(int64(n), e.maxRunning()))
}

// consumeTrigger registers the consumers of fe's event trigger on
// topic/event and returns what stops them all.
func (e *Engine) consumeTrigger(fe *flowEntry, topic, event string) (func(), error) {
	h := observeDelivery(e.opts.Telemetry, e.triggerHandler(fe))
	stops := make([]func(), 0, e.eventWorkers())
	stopAll := func() {
		for _, s := range stops {
			s()
		}
	}
	for range e.eventWorkers() {
		stop, err := e.broker.Consume(e.baseCtx, triggerConsumer(fe.name), topic, event, h)
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("flow %q: subscribing to %s %s: %w", fe.name, topic, event, err)
		}
		stops = append(stops, stop)
	}
	return stopAll, nil
}

// triggerConsumer is the consumer name of a flow's event triggers.
func triggerConsumer(flow string) string { return "trigger-" + flow }

// consumerForgetter is a Broker that can drop a consumer name none of
// whose consumers is left (MemoryBroker.Forget; natsbus.Broker.Forget
// deletes the durable consumer).
type consumerForgetter interface {
	Forget(name, topic, event string)
}

// forgetTriggers tells the broker, once fe replaced old and is attached,
// that old's event triggers fe does not have are gone for good: the broker
// would otherwise hold their topic/event's messages for a consumer that
// never comes back (MemoryBroker: until it is full, and every publish
// fails; natsbus: in the stream, for a trigger added back later to
// replay).
func (e *Engine) forgetTriggers(old, fe *flowEntry) {
	bf, ok := e.broker.(consumerForgetter)
	if !ok || e.opts.Executor != nil {
		return
	}
	kept := map[[2]string]bool{}
	for _, t := range fe.triggers {
		if t.Kind == runtime.TriggerEvent {
			kept[[2]string{t.Topic, t.Event}] = true
		}
	}
	for _, t := range old.triggers {
		if t.Kind == runtime.TriggerEvent && !kept[[2]string{t.Topic, t.Event}] {
			bf.Forget(triggerConsumer(old.name), t.Topic, t.Event)
		}
	}
}
