package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/runtime"
)

// The engine's door for events (POST /events/{topic}/{event}): an event
// it acknowledges is durable in this engine's store before the answer,
// whatever the broker, and is applied after any crash.
//
//   - The checks come first, and a refused event changes nothing: names and
//     ID within limits, a payload every flow it starts can take, the same
//     payload as an event of the same ID seen before (else
//     ErrIdempotencyMismatch).
//   - The event is published to the broker, for other engines and other
//     consumers, marked with the flows whose run this engine starts
//     (Message.Triggered): their trigger consumers, here and in other
//     engines of the group, leave it to this engine.
//   - Then, before the answer, each event trigger's run is started (its
//     first event synced: the run resumes after a crash), and unless the
//     event only starts runs, it is recorded in the inbox (synced; the run
//     that awaits it takes it, now or after a restart, and the inbox keeps
//     it for its retention for an await still to come).
//
// Close does not cut a publication short: one that comes once Close has
// begun is refused (ErrClosed) before anything changes, and Close waits
// for those under way, which are applied (their runs started, suspended
// at once) and answered as applied.
//
// A failure after the publication (the store failing) answers 5xx: the
// event may be applied in part; the client sends it again with the same
// ID, and what was done is not done twice (the inbox and the run IDs
// derived from the message ID dedupe). The runs that exist then start
// nothing, and take no place among the runs in flight (no ErrBusy).

// EventRun is a run an event starts.
type EventRun struct {
	Flow  string `json:"flow"`
	RunID string `json:"run_id"`
	// Existing: the run was started before, by this event's ID.
	Existing bool `json:"existing,omitempty"`
}

// Published is what PublishEvent did with an event.
type Published struct {
	ID string `json:"id"`
	// Runs are the runs the event starts (its flows' event triggers), in
	// flow name order; EventRunID gives the IDs of new ones.
	Runs []EventRun `json:"runs"`
	// Inbox: the event is in this engine's inbox, for the awaits.
	Inbox bool `json:"inbox"`
}

// PublishEvent publishes m (its ID: runtime.NewID if empty) through the
// broker and applies it here durably before it returns: the runs of the
// event triggers it starts have their first event in the store, and the
// event is in the inbox unless it only starts runs. A message ID seen
// before is applied once. Errors: ErrBadName (a name or ID outside the
// limits, a topic of the engine's: runtime.ReservedTopic), ErrBadState (a
// flow cannot start from the payload),
// ErrIdempotencyMismatch (the ID was seen with another payload),
// ErrNoConsumer (no flow starts on or awaits its topic/event), ErrBusy
// (the runs it starts would exceed Options.MaxRunning), ErrInboxFull,
// ErrTooLarge (the event alone is more than the inbox may hold), ErrClosed
// (Close has begun);
// a broker's error wraps ErrPublish; nothing changed on any of these,
// but for a broker that could not say whether it stored the event
// (ErrPublishUnknown), whose consumers then apply it.
func (e *Engine) PublishEvent(ctx context.Context, m Message) (Published, error) {
	if m.ID == "" {
		m.ID = runtime.NewID()
	}
	if m.Link == "" {
		m.Link = e.link(ctx)
	}
	if len(m.Payload) == 0 {
		m.Payload = json.RawMessage("null")
	}
	for _, err := range []error{checkName("topic", m.Topic), checkName("event", m.Event), checkKey("message ID", m.ID)} {
		if err != nil {
			return Published{}, err
		}
	}
	// No client's event is on the topics of the engine's provider waits,
	// which only a provider's registration ends.
	if msg := runtime.ReservedTopic(m.Topic); msg != "" {
		return Published{}, fmt.Errorf("%w: %s", ErrBadName, msg)
	}
	if err := payloadError(m.Payload); err != nil {
		return Published{}, fmt.Errorf("%w: %v", ErrBadState, err)
	}
	// Counted in before anything changes, or refused once Close has
	// begun: Close waits for the publications under way.
	if !e.enterPublish() {
		return Published{}, ErrClosed
	}
	defer e.publishing.Done()
	if e.opts.Executor != nil {
		return e.publishToExecutor(ctx, m)
	}
	// One publication of a message at a time (across the engines sharing
	// the store, which share the Locker): the checks below that its ID is
	// new or carries the same payload, and what follows them, happen
	// together, so that two requests with one ID and two payloads cannot
	// both pass the checks.
	unlock, err := e.locker.Lock(ctx, messageLockKey(m.Topic, m.Event, m.ID))
	if err != nil {
		return Published{}, err
	}
	defer unlock()
	triggered, awaited := e.consumersOf(m.Topic, m.Event)
	// The inbox's record of the ID is checked whether or not this event
	// goes to the inbox now: a flow defined since with an event trigger
	// on its topic does not make a message ID it holds new again.
	cur, known, err := e.in.st.GetMessage(m.key()) // known: a retry of its publication
	switch {
	case err != nil:
		return Published{}, err
	case known && !sameJSON(cur.Payload, m.Payload):
		return Published{}, e.otherPayload(ErrIdempotencyMismatch, m)
	}
	// An event no flow consumes (no event trigger on its topic/event, no
	// await of it) is dropped, as the in-process broker drops such a
	// message: kept in the inbox for a flow defined later, a client's
	// events to unused topics took -inbox-bytes from the events runs
	// await, which were then refused (429). A retry of one the inbox
	// holds is answered as before: it is kept. With a shared broker
	// (NATS), this process's flows are not all the consumers: another
	// process's flow may start on or await the event, so it is
	// published as before.
	mb, inProcess := e.broker.(*MemoryBroker)
	if inProcess && len(triggered) == 0 && !awaited && !known {
		mb.drop([2]string{m.Topic, m.Event})
		return Published{}, noConsumerError(m)
	}
	inbox := awaited || len(triggered) == 0
	// Checks: nothing has changed yet. The runs that exist (a retry of
	// an event applied in part) start nothing, and take no slot of the
	// runs in flight.
	existed := make([]bool, len(triggered))
	runIDs := make([]string, len(triggered))
	fresh := 0
	for i, fe := range triggered {
		runIDs[i] = e.eventRun(fe, m)
		state := eventState(fe, m.Payload)
		if _, err := fe.ops.initialState(state); err != nil {
			return Published{}, startRefusal(fe, m, err)
		}
		if info, ok := e.store.Get(runIDs[i]); ok {
			if err := e.existing(fe, info, state, true); !errors.Is(err, ErrRunExists) {
				return Published{}, e.otherPayload(err, m)
			}
			existed[i] = true
		} else {
			fresh++
		}
	}
	// Room in the inbox for a new event, held before anything changes:
	// beyond Options.InboxBytes, ErrInboxFull (429).
	if inbox && !known {
		if err := e.in.tooLarge(m); err != nil {
			return Published{}, err // 413: room would never come
		}
		release, err := e.in.hold([]Message{m})
		if err != nil {
			return Published{}, err
		}
		defer release()
	}
	// The runs it starts count against Options.MaxRunning, reserved all
	// together before anything changes: beyond the bound, ErrBusy (429).
	if err := e.reserve(fresh, admitRequest); err != nil {
		return Published{}, err
	}
	reserved := fresh
	defer func() { e.running.Add(-int64(reserved)) }()
	out := Published{ID: m.ID, Runs: []EventRun{}, Inbox: inbox}
	pub := m
	for _, fe := range triggered {
		pub.Triggered = append(pub.Triggered, fe.name)
	}
	if err := e.brokerPublish(ctx, pub); err != nil {
		return Published{}, fmt.Errorf("%w: %w", ErrPublish, err)
	}
	// Applied here, durably, from now on.
	for i, fe := range triggered {
		adm := admitAlways // a run that existed at the checks: it answers so
		if !existed[i] {
			reserved-- // startRun takes the slot, or gives it back
			adm = admitHeld
		}
		id, err := e.startAccepted(ctx, fe, eventState(fe, m.Payload), runIDs[i], false, adm)
		if err != nil && !errors.Is(err, ErrRunExists) {
			return Published{}, err
		}
		out.Runs = append(out.Runs, EventRun{Flow: fe.name, RunID: id, Existing: err != nil})
	}
	if inbox {
		if err := e.in.receive(ctx, m); err != nil {
			return Published{}, err
		}
	}
	return out, nil
}

// enterPublish counts a PublishEvent in e.publishing, unless Close has
// begun (false).
func (e *Engine) enterPublish() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.publishing.Add(1)
	return true
}

// ErrNoConsumer: no flow of the engine consumes the event's topic/event
// (no event trigger on it, no await of it), and nothing else would: the
// engine's broker is the in-process one, which has no other consumers,
// or its Executor, which keeps an event only for the flows it is given.
// It was dropped (with the in-process broker, counted as that broker
// counts the messages it drops: BrokerStats.Dropped), and nothing else
// changed (HTTP 404). Post it again once a flow that consumes it is
// defined.
var ErrNoConsumer = errors.New("engine: no flow consumes this topic and event")

// noConsumerError is the error of publishing m, which no flow consumes.
func noConsumerError(m Message) error {
	return fmt.Errorf("%w: no flow starts on or awaits %q %q, so the event is dropped, not kept; post it again once a flow that consumes it is defined", ErrNoConsumer, m.Topic, m.Event)
}

// startRefusal is the error (ErrBadState) of an event m that flow fe
// cannot start from: err, why its initial state is not fe's.
func startRefusal(fe *flowEntry, m Message, err error) error {
	return fmt.Errorf("%w: flow %s cannot start from the payload of %s %s: %v", ErrBadState, fe.name, m.Topic, m.Event, err)
}

// undeliverable is why no consumer may take m, a message from the broker:
// a flow it triggers cannot start from its payload, or it is an awaited
// event larger alone than the inbox may hold (it would wait for room
// forever); "" when neither (a flow whose run its publisher started,
// Message.Triggered, as triggerHandler skips it, is not asked). The
// trigger's consumer dead-letters such a message, and the inbox does
// before it would offer the message to a waiting run, so that a dead
// letter is dead for every consumer, whichever of them receives it first,
// as PublishEvent refuses such an event for all (400, 413).
func (e *Engine) undeliverable(m Message) string { return e.undeliverableBut(m, nil) }

// undeliverableBut is undeliverable, but for flow skip, which its caller
// starts itself (and learns so of its payload). A trigger's consumer asks
// it of the other flows the message triggers and of the inbox: they may
// have dead-lettered it, or will, and a dead letter starts no run.
func (e *Engine) undeliverableBut(m Message, skip *flowEntry) string {
	triggered, awaited := e.consumersOf(m.Topic, m.Event)
	for _, fe := range triggered {
		if fe == skip || slices.Contains(m.Triggered, fe.name) {
			continue
		}
		if _, err := fe.ops.initialState(eventState(fe, m.Payload)); err != nil {
			return cannotStart(fe, err)
		}
	}
	if awaited {
		if err := e.in.tooLarge(m); err != nil {
			return err.Error()
		}
	}
	return ""
}

// payloadError says why the engine takes in no event with payload p: it
// is not JSON, or not JSON the engine takes in (jsonUnfit: too deep, not
// UTF-8, a number out of a float64's range). PublishEvent refuses
// such an event (400); the inbox dead-letters one a broker brings, which
// a run's await would take and then fail to record in its state. An empty
// payload is JSON null to PublishEvent, and passes.
func payloadError(p []byte) error {
	if runtime.PayloadNotJSON(p) {
		return errors.New("the payload is not valid JSON")
	}
	if err := jsonUnfit(p); err != nil {
		return fmt.Errorf("the payload: %v", err)
	}
	return nil
}

// cannotStart is the reason a message that cannot start flow fe (err) is
// dead-lettered with.
func cannotStart(fe *flowEntry, err error) string {
	return fmt.Sprintf("cannot start flow %s: %v", fe.name, err)
}

// messageLockKey is the Locker key of a message's publication: a space
// keeps it apart from every run ID (CheckRunID).
func messageLockKey(topic, event, id string) string {
	return "message " + topic + "/" + event + "/" + id
}

// ErrPublish: the broker refused the event, or did not say whether it
// stored it (ErrPublishUnknown) (HTTP 502).
var ErrPublish = errors.New("engine: publishing to the broker")

func (e *Engine) otherPayload(err error, m Message) error {
	if errors.Is(err, ErrIdempotencyMismatch) {
		return OtherPayloadError(m)
	}
	return err
}

// OtherPayloadError is the error of publishing m when a message of its ID
// (topic, event and ID) was published before with another payload
// (ErrIdempotencyMismatch, HTTP 422), naming the message. An Executor
// that finds so answers it too.
func OtherPayloadError(m Message) error {
	return fmt.Errorf("%w: message %q of %s %s was published before with another payload", ErrIdempotencyMismatch, m.ID, m.Topic, m.Event)
}

// consumersOf returns the flows that topic/event starts (by name) and
// whether a flow of this engine awaits it.
func (e *Engine) consumersOf(topic, event string) (triggered []*flowEntry, awaited bool) {
	e.mu.Lock()
	for _, fe := range e.flows {
		for _, t := range fe.triggers {
			if t.Kind == runtime.TriggerEvent && t.Topic == topic && t.Event == event {
				triggered = append(triggered, fe)
				break
			}
		}
		awaited = awaited || slices.Contains(fe.awaits, [2]string{topic, event})
	}
	e.mu.Unlock()
	slices.SortFunc(triggered, func(a, b *flowEntry) int { return strings.Compare(a.name, b.name) })
	return triggered, awaited || e.in.consumes(topic, event)
}
