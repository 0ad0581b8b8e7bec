package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/jsonscan"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// RPC is the trigger `trigger rpc "<endpoint>"`: a POST to the HTTP API's
// endpoint starts a run.
func RPC(endpoint string) runtime.Trigger {
	return runtime.Trigger{Kind: runtime.TriggerRPC, Endpoint: endpoint}
}

// OnEvent is the trigger `trigger event <topic> "<event>"`: each such
// event on the broker starts a run.
func OnEvent(topic, event string) runtime.Trigger {
	return runtime.Trigger{Kind: runtime.TriggerEvent, Topic: topic, Event: event}
}

// Schedule is the trigger `trigger schedule "<spec>"`: the engine starts a
// run on each tick of spec.
func Schedule(spec string) runtime.Trigger {
	return runtime.Trigger{Kind: runtime.TriggerSchedule, Schedule: spec}
}

// validateTrigger reports a trigger the engine cannot start a flow from.
func validateTrigger(t runtime.Trigger) error {
	if empty := t.EmptyFields(); len(empty) > 0 {
		return fmt.Errorf("%s trigger without its %s", t.Kind, strings.Join(empty, " and "))
	}
	switch t.Kind {
	case runtime.TriggerRPC, runtime.TriggerEvent:
	case runtime.TriggerSchedule:
		if _, err := runtime.ParseSchedule(t.Schedule); err != nil {
			return fmt.Errorf("schedule %q: %w", t.Schedule, err)
		}
	default:
		return fmt.Errorf("unknown trigger kind %q", t.Kind)
	}
	return nil
}

// StartRun starts a run of flow with the given JSON state (empty: the zero
// state) and returns its ID once the run's first event is durable. runID
// may be "" (a new ID) or chosen by the caller (CheckRunID says which IDs
// are valid: ErrBadName otherwise). Starting an ID that already exists
// starts nothing: with the same initial state it returns the ID with an
// error wrapping ErrRunExists, which makes client retries idempotent; with
// another state, ErrIdempotencyMismatch; for a run of another flow,
// ErrRunIDTaken; for a run another caller is starting and has not
// recorded within a little while, an error to try again after (HTTP 503
// with Retry-After). A state that does not fit the flow is ErrBadState: JSON
// the engine does not take in, or, for a generated flow, a member its
// state type does not name as written (docs/engine.md, JSON the engine
// takes in).
func (e *Engine) StartRun(ctx context.Context, flow string, state json.RawMessage, runID string) (string, error) {
	fe, err := e.lookup(flow)
	if err != nil {
		return "", err
	}
	if runID != "" {
		if err := CheckRunID(runID); err != nil {
			return "", err
		}
	}
	state, err = clientState(fe, state)
	if err != nil {
		return "", err
	}
	return e.startRun(ctx, fe, state, runID, true, admitRequest)
}

// clientState is the state a client starts a run of fe with (a POST's
// body, StartRun's argument), white space trimmed, nil for none; or
// ErrBadState for one that is not a JSON value, saying where (the line
// and column, as a registration is told: provider.CheckJSON), or, for a
// flow of a .json definition, not an object.
func clientState(fe *flowEntry, body json.RawMessage) (json.RawMessage, error) {
	state := bytes.TrimSpace(body)
	if len(state) == 0 {
		return nil, nil
	}
	if err := provider.CheckJSON(body); err != nil { // where, in the body as sent
		return nil, fmt.Errorf("%w: the state of flow %q: %v", ErrBadState, fe.name, err)
	}
	if fe.def != nil && state[0] != '{' {
		return nil, fmt.Errorf("%w: the state of flow %q must be a JSON object, found %s", ErrBadState, fe.name, jsonscan.Kind(state))
	}
	return state, nil
}

// Errors of starting a run whose ID exists.
var (
	// ErrRunExists: the run exists, started by the same request (HTTP 200).
	ErrRunExists = errors.New("engine: run already exists")
	// ErrRunIDTaken: the run ID is a run of another flow (HTTP 409).
	ErrRunIDTaken = errors.New("engine: run ID taken by a run of another flow")
	// ErrIdempotencyMismatch: the run ID (or the Idempotency-Key it comes
	// from) started a run with another initial state (HTTP 422).
	ErrIdempotencyMismatch = errors.New("engine: an ID reused with another request")
)

// startRun starts a run of fe with runID ("": a new one). A run ID that
// exists gives ErrRunExists, or ErrRunIDTaken for a run of another flow;
// with same (a client's start: HTTP, StartRun), also
// ErrIdempotencyMismatch when the existing run started from another state
// than state, and state must name only members of the state type
// (checkStart). adm says how the run counts against
// Options.MaxRunning (ErrBusy): a start of a run that exists answers as
// above, bound or not. Once Close has begun, a start is refused
// (ErrClosed) before anything changes.
func (e *Engine) startRun(ctx context.Context, fe *flowEntry, state json.RawMessage, runID string, same bool, adm admission, opts ...runtime.RunOption) (string, error) {
	if e.draining.Load() {
		if adm == admitHeld {
			e.running.Add(-1) // the caller's slot, given back
		}
		return "", ErrClosed
	}
	return e.startAccepted(ctx, fe, state, runID, same, adm, opts...)
}

// startAccepted is startRun, Close begun or not: the start of a run of an
// event the broker holds already (PublishEvent past its publication),
// which a refusal would answer 503 for an event published. Close waits
// for the publication (Engine.publishing); a run started meanwhile is
// suspended as it starts (attachRun), its first event recorded, and
// resumes at the next Start.
func (e *Engine) startAccepted(ctx context.Context, fe *flowEntry, state json.RawMessage, runID string, same bool, adm admission, opts ...runtime.RunOption) (_ string, err error) {
	// slot: this start holds a slot of the runs in flight, which the run
	// takes over once tracked; any other way out gives it back.
	slot := adm == admitHeld
	defer func() {
		if slot {
			e.running.Add(-1)
		}
	}()
	if runID == "" {
		runID = runtime.NewID()
	} else if !strings.Contains(runID, "@") {
		// The runtime's rule, before the store and the lock see the ID. A
		// call's child (its parent's ID, '@' and its step: ChildRunID) is
		// longer than a chosen ID may be; Start checks it against its
		// parent (WithParent).
		if err := runtime.CheckRunID(runID); err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadName, err)
		}
	}
	if err := jsonUnfit(state); err != nil {
		return "", fmt.Errorf("%w: the state: %v", ErrBadState, err)
	}
	if same {
		if err := fe.ops.checkStart(state); err != nil {
			return "", err
		}
	}
	if x := e.opts.Executor; x != nil {
		want, err := fe.ops.initialState(state)
		if err != nil {
			return "", err
		}
		return runID, x.Start(ctx, fe.execFlow(), want, runID)
	}
	if info, ok := e.store.Get(runID); ok {
		return runID, e.existing(fe, info, state, same)
	}
	switch adm {
	case admitRequest, admitEvent, admitTick:
		if err := e.reserve(1, adm); err != nil {
			return "", err
		}
		slot = true
	case admitAlways:
		e.running.Add(1)
		slot = true
	}
	// A held lock is a run of this ID being started or driven: it exists.
	unlock, err := e.locker.Lock(held, runID)
	if err != nil {
		return runID, e.existingSoon(ctx, fe, runID, state, same)
	}
	if info, ok := e.store.Get(runID); ok {
		unlock()
		return runID, e.existing(fe, info, state, same)
	}
	// The run is tracked before it starts: its end (the runtime's
	// WithRunEnded hook) may come before start returns.
	lr := e.track(fe, runID, unlock)
	slot = false
	r, err := fe.ops.start(e.runParent(ctx), state, runID, opts...)
	if err != nil {
		e.untrack(lr)
		if errors.Is(err, runtime.ErrDuplicateRun) {
			return runID, e.existingSoon(ctx, fe, runID, state, same)
		}
		return "", err
	}
	e.attachRun(lr, r)
	return runID, nil
}

// existing is the error of starting fe's run runID, which exists (info):
// ErrRunExists, ErrRunIDTaken, or with same, ErrIdempotencyMismatch when
// the run's first event holds another state than state would give.
func (e *Engine) existing(fe *flowEntry, info store.RunInfo, state json.RawMessage, same bool) error {
	if info.Flow != fe.name {
		return fmt.Errorf("%w: %q is a run of flow %q, not %q", ErrRunIDTaken, info.RunID, info.Flow, fe.name)
	}
	if same {
		h, err := e.firstEvent(info.RunID)
		if err != nil {
			return err
		}
		want, err := fe.ops.initialState(state)
		if err != nil {
			return err
		}
		if len(h) == 0 || !sameJSON(h[0].State, want) {
			return fmt.Errorf("%w: run %q of flow %q started from another state", ErrIdempotencyMismatch, info.RunID, fe.name)
		}
	}
	return fmt.Errorf("%w: %q", ErrRunExists, info.RunID)
}

// firstEvent is runID's history up to its first event: what existing
// compares a request with. A store that reads a page of a history
// (historyPager) reads that event alone, not a history of up to 25,000
// events, each with its state, at every retry of a start or an event.
func (e *Engine) firstEvent(runID string) ([]runtime.Event, error) {
	if p, ok := e.store.(historyPager); ok {
		h, _, err := p.LoadPage(runID, 0, 1, MaxHistoryPageBytes, true)
		return h, err
	}
	return e.store.Load(runID)
}

// existingSoon is existing for a run another caller is starting (its lock
// is held, or the store refused the first event as a duplicate): it waits
// a little for the run's first event to be in the store.
func (e *Engine) existingSoon(ctx context.Context, fe *flowEntry, runID string, state json.RawMessage, same bool) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if info, ok := e.store.Get(runID); ok {
			return e.existing(fe, info, state, same)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%w: run %q has not recorded its first event yet; try again", errStarting, runID)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sameJSON reports whether a and b are the same JSON value: objects with
// the same members in any order, numbers as written.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	va, erra := decodeJSON(a)
	vb, errb := decodeJSON(b)
	return erra == nil && errb == nil && reflect.DeepEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	// One value: what follows it would be compared by no one.
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("more after the JSON value")
	}
	return v, nil
}

// liveRun is a run this engine drives, from its start or resume until the
// runtime says its life here ended (WithRunEnded): it ended, or it was
// suspended. A waiting run is live too: its run lock is held (no other
// engine sharing the store resumes it), and it holds no goroutine.
type liveRun struct {
	fe     *flowEntry
	id     string
	unlock func()
	mu     sync.Mutex
	r      runHandle // nil until start or resume returns
	ended  bool
	parked bool // waiting on an await or a sleep, or about to, or ending: not in flight
	// ready is closed once r is set, or the run is no longer tracked:
	// Abort waits for it rather than find the run's lock held by this
	// engine's own start or resume.
	ready   chan struct{}
	settled bool
}

// settleLocked closes lr.ready, once. lr.mu is held.
func (lr *liveRun) settleLocked() {
	if !lr.settled {
		lr.settled = true
		close(lr.ready)
	}
}

// track registers runID as driven by this engine. It takes over a slot of
// the runs in flight the caller holds; untrack gives it back.
func (e *Engine) track(fe *flowEntry, runID string, unlock func()) *liveRun {
	lr := &liveRun{fe: fe, id: runID, unlock: unlock, ready: make(chan struct{})}
	e.active.Add(1)
	e.liveMu.Lock()
	e.live[runID] = lr
	e.liveMu.Unlock()
	return lr
}

// attachRun records the handle of a tracked run; a run suspended while it
// started (Close came meanwhile) is suspended now.
func (e *Engine) attachRun(lr *liveRun, r runHandle) {
	lr.mu.Lock()
	lr.r = r
	lr.settleLocked()
	ended := lr.ended
	lr.mu.Unlock()
	if !ended && e.draining.Load() {
		_ = r.Suspend()
	}
}

// untrack forgets a run that did not start, or whose life here ended.
func (e *Engine) untrack(lr *liveRun) {
	e.liveMu.Lock()
	if e.live[lr.id] == lr {
		delete(e.live, lr.id)
	}
	e.liveMu.Unlock()
	lr.mu.Lock()
	e.leaveInFlightLocked(lr)
	lr.settleLocked()
	lr.mu.Unlock()
	lr.unlock()
	e.active.Done()
}

// liveOf is the engine's record of run runID, live in it, or nil.
func (e *Engine) liveOf(runID string) *liveRun {
	e.liveMu.Lock()
	defer e.liveMu.Unlock()
	return e.live[runID]
}

// runEnded is the runtime's WithRunEnded hook for every flow on the engine.
// A run suspended because its JSON flow was replaced resumes on the new
// definition.
func (e *Engine) runEnded(runID string, _ runtime.RunState, err error) {
	lr := e.liveOf(runID)
	if lr == nil {
		return
	}
	lr.mu.Lock()
	lr.ended = true
	lr.mu.Unlock()
	e.untrack(lr)
	if !errors.Is(err, runtime.ErrSuspended) || e.draining.Load() {
		return
	}
	if fe, lerr := e.lookup(lr.fe.name); lerr == nil && fe != lr.fe {
		e.bg.Add(1)
		go func() {
			defer e.bg.Done()
			if err := e.resumeRun(e.baseCtx, fe, runID, false); err != nil {
				e.log.Error("run cannot resume on its flow's new definition", "flow", fe.name, "run_id", runID, "error", err)
			}
		}()
	}
}

// suspendAll suspends the runs this engine drives of fe (nil: of every
// flow). It does not wait for them.
func (e *Engine) suspendAll(fe *flowEntry) {
	e.liveMu.Lock()
	var runs []runHandle
	for _, lr := range e.live {
		lr.mu.Lock()
		if (fe == nil || lr.fe == fe) && lr.r != nil {
			runs = append(runs, lr.r)
		}
		lr.mu.Unlock()
	}
	e.liveMu.Unlock()
	for _, r := range runs {
		_ = r.Suspend()
	}
}

// liveRunOf returns the handle of a run this engine drives.
func (e *Engine) liveRunOf(runID string) (runHandle, bool) {
	lr := e.liveOf(runID)
	if lr == nil {
		return nil, false
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return lr.r, lr.r != nil && !lr.ended
}

// held is a context that is already over: Locker.Lock with it takes a free
// lock and gives up at once on a held one.
var held = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// errDriven: another engine sharing the store (or this one) drives the run.
var errDriven = errors.New("engine: run driven by another engine sharing the store")

// errStarting: another request (or engine) is starting the run of this ID
// and has not recorded its first event yet (HTTP 503 with Retry-After):
// the same request sent again gets that run, or a 422 for another body.
var errStarting = errors.New("engine: the run is being started")

// errFlowUndefined: the run's flow is not defined on this engine (one
// without a flows directory, restarted): the run waits in the store for
// it, and nothing can be done to it until then (HTTP 409, not the 404 of
// a run that does not exist).
var errFlowUndefined = errors.New("engine: the run's flow is not defined")

// resumeRun resumes runID (of fe) from its history, if no engine drives it.
// With abort (Abort of a run no engine drives), the abort is recorded in the
// store first, and the run resumes only to roll back; so does a run whose
// abort was recorded before (a crash came before the run recorded it).
func (e *Engine) resumeRun(ctx context.Context, fe *flowEntry, runID string, abort bool) error {
	if e.draining.Load() {
		return nil
	}
	unlock, err := e.locker.Lock(held, runID)
	if err != nil {
		return fmt.Errorf("%w: %s", errDriven, quoteRunID(runID))
	}
	// Tracked at once, so that an Abort meanwhile waits for the handle.
	e.running.Add(1) // accepted work: counted, never refused
	lr := e.track(fe, runID, unlock)
	h, err := e.store.Load(runID)
	if err != nil {
		e.untrack(lr)
		return err
	}
	if end := h[len(h)-1].To; isTerminal(end) {
		e.untrack(lr)
		if abort {
			// It ended since Abort looked at it (and left this engine
			// before Abort looked for it live): the abort is refused,
			// as one that came after the end, not answered as taken.
			return CheckAbort(runID, runtime.RunState(end))
		}
		return nil
	}
	if abort {
		// A run this definition cannot resume cannot roll back: the
		// abort is refused before anything is recorded.
		if err := fe.ops.checkHistory(h); err != nil {
			e.untrack(lr)
			return fmt.Errorf("%w: run %s cannot resume on flow %q as this engine defines it now, so it cannot roll back: %v", ErrConflict, quoteRunID(runID), fe.name, err)
		}
		// Durable before the run takes it: Abort's caller is answered
		// that it is.
		if err := e.store.RequestAbort(ctx, runID); err != nil {
			e.untrack(lr)
			return err
		}
	}
	// The runtime resumes a run whose abort is pending aborted: the
	// store, the runs' sink, keeps the requests (runtime.AbortRecorder).
	r, err := fe.ops.resume(runContext, h)
	if err != nil {
		e.untrack(lr)
		if errors.Is(err, runtime.ErrFinished) {
			return nil
		}
		if abort {
			// The request is durable, and the run's next resume (the
			// next Start, or the next Abort) takes it: Abort's caller
			// is answered so, as when a crash comes before the run
			// records the abort. A 500 would say nothing changed.
			e.log.Error("resuming a run to abort it failed: the abort request stands for its next resume", "run_id", runID, "flow", fe.name, "error", err)
			return nil
		}
		return err
	}
	e.attachRun(lr, r)
	return nil
}

// runContext is the parent of every run's context. It is never cancelled:
// cancelling a run's context aborts the run (rolls it back), which closing
// the engine must never do.
var runContext = context.Background()

func isTerminal(machine string) bool { return runtime.RunState(machine).Terminal() }

// triggerHandler starts a run per event: the run ID is derived from the
// message ID, so an event delivered twice starts one run. A message ID
// outside the limits of POST /events' (deliveredIDProblem), or a payload that
// can never start the flow (it does not decode into the state) is
// dead-lettered and acknowledged: redelivering it would fail forever and,
// on a broker that delivers in order, hold up the events behind it. An
// event that comes before fe is live (its registration, or Start, may
// still be refused) is delivered again later (errNotLive).
func (e *Engine) triggerHandler(fe *flowEntry) func(context.Context, Message) error {
	return func(ctx context.Context, m Message) error {
		if slices.Contains(m.Triggered, fe.name) {
			return nil // its publisher started the run (PublishEvent)
		}
		if !fe.live.Load() {
			return fmt.Errorf("%w: flow %q", errNotLive, fe.name)
		}
		deadLetter := func(reason string) error {
			e.deadLog.Warn("event dead-lettered", "flow", fe.name, "topic", m.Topic, "event", m.Event, "id", m.ID, "reason", reason)
			return e.in.deadLetter(ctx, m, reason)
		}
		// An ID outside the rule of POST /events' IDs: no run is
		// derived from it, nor is it logged or stored as it came.
		if reason := deliveredIDProblem(&m); reason != "" {
			return deadLetter(reason)
		}
		// A payload POST /events refuses (payloadError), refused here
		// too, for every flow it triggers: a JSON flow's state wraps one
		// that is not an object ({"payload": ...}, eventState), which
		// made some text that is not JSON ("1, \"x\": 2") a state with
		// members of its sender's choosing.
		if err := payloadError(m.Payload); err != nil {
			return deadLetter(cannotStart(fe, err))
		}
		// Another flow it triggers cannot start from it, or the inbox
		// cannot hold it: a dead letter for every consumer, as POST
		// /events refuses it for all.
		if reason := e.undeliverableBut(m, fe); reason != "" {
			return deadLetter(reason)
		}
		// Beyond Options.MaxRunning, ErrBusy: the broker delivers the
		// event again later.
		_, err := e.startRun(e.fromSender(ctx, m.Link), fe, eventState(fe, m.Payload), e.eventRun(fe, m), false, admitEvent)
		switch {
		case errors.Is(err, ErrRunExists):
			return nil
		case errors.Is(err, ErrBadState):
			return deadLetter(cannotStart(fe, err))
		}
		return err
	}
}

// errNotLive: an event trigger's event came while its flow's registration
// (or the engine's Start) was not committed yet; the broker delivers it
// again later.
var errNotLive = errors.New("engine: the flow's registration is not committed yet")

// eventState is the initial state of a run started by an event: for a JSON
// flow, the payload's members when it is an object, else {"payload": it};
// for a generated flow, the payload decoded into the state type.
func eventState(fe *flowEntry, payload json.RawMessage) json.RawMessage {
	if fe.def == nil {
		return payload
	}
	return EventState(payload)
}

// EventRunID is the ID of the run that the event trigger of flow starts
// for the message of ID messageID on topic/event: "e-" and the first 12
// bytes, in hex, of the SHA-256 of the flow's name, the topic, the event
// and the message ID, each after the one before and a zero byte. A
// message is its topic, event and ID (the inbox's rule), so a flow with
// two event triggers starts two runs for two messages of one ID on its
// two events (a hash of the flow and the ID alone took the second for the
// first delivered again). It is how to find the run of an event published
// to the broker; POST /events/{topic}/{event} answers it.
func EventRunID(flow, topic, event, messageID string) string {
	return derivedRunID(flow, "e", topic+"\x00"+event+"\x00"+messageID)
}

// eventRun is the ID of the run fe's event trigger starts for m:
// EventRunID, unless the store has fe's run of the ID an engine gave it
// before run IDs took in the topic and event (the flow and the message ID
// alone): a message whose run started before the upgrade, delivered or
// posted again after it, starts nothing, as before.
func (e *Engine) eventRun(fe *flowEntry, m Message) string {
	if info, ok := e.store.Get(olderEventRunID(fe.name, m.ID)); ok && info.Flow == fe.name {
		return info.RunID
	}
	return EventRunID(fe.name, m.Topic, m.Event, m.ID)
}

// olderEventRunID is the ID that engines gave the run of flow's event
// trigger for message messageID before run IDs took in the topic and the
// event: the flow and the message ID alone. A run of flow under it answers
// for the message still (eventRun; an Executor, EventStart.OlderRunID).
func olderEventRunID(flow, messageID string) string { return derivedRunID(flow, "e", messageID) }

// KeyRunID is the ID of the run that an HTTP start of flow with the
// Idempotency-Key key starts: "k-" and the first 12 bytes, in hex, of the
// SHA-256 of the flow's name, a zero byte and the key.
func KeyRunID(flow, key string) string { return derivedRunID(flow, "k", key) }

// derivedRunID is a run ID that the same cause always gives: flow, kind of
// cause and a hash of its ID.
func derivedRunID(flow, kind, id string) string {
	sum := sha256.Sum256([]byte(flow + "\x00" + id))
	return kind + "-" + hex.EncodeToString(sum[:derivedHashBytes])
}

// derivedHashBytes is how much of its hash a derived run ID keeps.
const derivedHashBytes = 12

// isDerivedRunID reports whether id has the form of an EventRunID or a
// KeyRunID.
func isDerivedRunID(id string) bool {
	for _, kind := range []string{"e", "k"} {
		if h, ok := strings.CutPrefix(id, kind+"-"); ok && len(h) == 2*derivedHashBytes && isLowerHex(h) {
			return true
		}
	}
	return false
}

// isLowerHex reports whether s is lower-case hex digits, at least one.
func isLowerHex(s string) bool { return s != "" && strings.Trim(s, "0123456789abcdef") == "" }

// Locker serialises the drivers of a run: an engine holds a run's lock from
// the moment it starts or resumes the run until the run's goroutine is over
// (finished, parked, stopped). Engines that share a store must share a
// Locker, so that no step runs on two engines at once.
type Locker interface {
	// Lock waits for runID's lock until ctx ends. The engine also locks a
	// message's key ("message TOPIC/EVENT/ID", never a run ID) while
	// PublishEvent applies it.
	Lock(ctx context.Context, runID string) (unlock func(), err error)
}

// NewLocker returns an in-process Locker.
func NewLocker() Locker { return &localLocker{held: map[string]chan struct{}{}} }

type localLocker struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

func (l *localLocker) Lock(ctx context.Context, runID string) (func(), error) {
	for {
		l.mu.Lock()
		ch, busy := l.held[runID]
		if !busy {
			ch = make(chan struct{})
			l.held[runID] = ch
			l.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					l.mu.Lock()
					delete(l.held, runID)
					l.mu.Unlock()
					close(ch)
				})
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Abort aborts a run: a running step is cancelled, a waiting run stops
// waiting, and the run rolls back. A run no engine drives yet (its flow was
// registered after it stopped) is resumed only to roll back. It returns
// runtime.ErrFinished for a run that is over, runtime.ErrUnknownRun for
// an unknown one, and an error that says so (HTTP 409) for a run whose flow
// this engine does not define, and changes nothing then.
//
// When it returns nil the abort is durable: recorded in the store
// (Store.RequestAbort) before the run is told, as the run records it only
// once its step in flight returns. A crash before that leaves the request,
// and the run's next resume aborts it; so does a resume to roll back that
// fails once the request is recorded (it is logged, and Abort returns nil).
func (e *Engine) Abort(ctx context.Context, runID string) error {
	if x := e.opts.Executor; x != nil {
		return x.Abort(ctx, runID)
	}
	err := e.abort(ctx, runID)
	if err == nil {
		// Watchers learn of it now: the run records it only once its
		// step in flight returns.
		if info, ok := e.store.Get(runID); ok {
			e.watch.publishAbort(runtime.RunRef{Flow: info.Flow, RunID: runID})
		}
	}
	return err
}

// CheckAbort is the rule for POST /runs/{id}/abort on a run in state s:
// an error wrapping runtime.ErrFinished for a run that is over,
// ErrConflict for one rolling back (its rollback finishes whatever
// happens, after a failure or after an abort, so an abort changes
// nothing: runtime.RunState.TakesAbort), nil when the abort can be taken.
// The engine and an Executor (jsonflows) answer by it.
func CheckAbort(runID string, s runtime.RunState) error {
	switch {
	case s.Terminal():
		return fmt.Errorf("%w: %s is %s", runtime.ErrFinished, quoteRunID(runID), s)
	case !s.TakesAbort():
		return fmt.Errorf("%w: %s is %s: its rollback finishes whatever happens, so an abort changes nothing", ErrConflict, quoteRunID(runID), s)
	}
	return nil
}

// abort is Abort of a run of this engine's store.
func (e *Engine) abort(ctx context.Context, runID string) error {
	if e.draining.Load() {
		// Closing: a run not live here would not be resumed to abort.
		return fmt.Errorf("%w: aborting %s", ErrClosed, quoteRunID(runID))
	}
	for {
		if lr := e.liveOf(runID); lr != nil {
			// This engine is starting or resuming the run (after a
			// restart, its resume may be queued behind others): its
			// handle comes once that returns.
			select {
			case <-lr.ready:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		info, ok := e.store.Get(runID)
		if !ok {
			return fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
		}
		if err := CheckAbort(runID, info.State); err != nil {
			return err // nothing recorded: an abort would not change the run
		}
		if r, ok := e.liveRunOf(runID); ok {
			// The run records the request in the store, its sink
			// (runtime.AbortRecorder), before it acts on it, and refuses
			// it once it has entered its rollback after a failure: a
			// request recorded here first could come as the run records
			// its failure, and be accepted for a run that then ends
			// compensated.
			err := r.AbortUnlessRollingBack()
			if errors.Is(err, runtime.ErrRollingBack) {
				return CheckAbort(runID, runtime.StateRollingBack)
			}
			if errors.Is(err, runtime.ErrFinished) {
				if e.store.AbortRequested(runID) {
					// Suspended (Close), not over: the request stands
					// for the run's next resume.
					return nil
				}
				// It ended, or is recording its end, since the look
				// above: the run refused the abort, recording nothing.
				if err := e.endedAbort(runID); err != nil {
					return err
				}
				return fmt.Errorf("%w: %s is recording its end", runtime.ErrFinished, quoteRunID(runID))
			}
			return err
		}
		fe, err := e.lookup(info.Flow)
		if err != nil {
			return fmt.Errorf("%w: run %s is of flow %q, which this engine does not define now: define it again (PUT /flows), and the run resumes and can be aborted", errFlowUndefined, quoteRunID(runID), info.Flow)
		}
		err = e.resumeRun(ctx, fe, runID, true)
		if errors.Is(err, errDriven) && e.liveOf(runID) == nil {
			// Held by an engine that was letting go of it: one where it
			// ended since the look above is over, not driven.
			if err := e.endedAbort(runID); err != nil {
				return err
			}
		}
		if !errors.Is(err, errDriven) || e.liveOf(runID) == nil {
			return err
		}
		// This engine took the run between the looks: wait for it.
	}
}

// endedAbort is abort's answer (CheckAbort's) for a run the store shows
// ended since abort looked at it, nil when it does not.
func (e *Engine) endedAbort(runID string) error {
	if info, ok := e.store.Get(runID); ok && info.State.Terminal() {
		return CheckAbort(runID, info.State)
	}
	return nil
}

// Status returns a run's status: the Replay of its history, which says what
// a waiting run waits for and until when (Status.Wait); for an Executor's
// run that ended without its history recording it, the end the executor
// reports (EndReporter).
//
// ctx bounds an Executor's calls, as does the engine's Close.
func (e *Engine) Status(ctx context.Context, runID string) (RunStatus, error) {
	ctx, done := e.readCtx(ctx)
	defer done()
	st, err := e.replay(ctx, runID)
	if err != nil {
		return RunStatus{}, err
	}
	if x, ok := e.opts.Executor.(EndReporter); ok && !st.State.Terminal() {
		end, why, err := x.EndedOutside(ctx, runID)
		if err != nil {
			return RunStatus{}, err
		}
		if end != "" {
			st.EndedOutside(end, why)
		}
	}
	out := RunStatus{Status: st}
	switch x, asks := e.opts.Executor.(AbortRequester); {
	case e.opts.Executor == nil:
		out.AbortRequested = AbortPending(e.store, runID, st.State)
	case asks:
		requests := &executorAborts{ctx: ctx, x: x}
		out.AbortRequested = AbortPending(requests, runID, st.State)
		if requests.err != nil {
			return RunStatus{}, requests.err
		}
	}
	return out, nil
}

// replay is runID's status as its history says it (runtime.Replay of
// statusHistory, under a ctx readCtx made), without the history.
func (e *Engine) replay(ctx context.Context, runID string) (runtime.Status, error) {
	h, err := e.statusHistory(ctx, runID)
	if err != nil {
		return runtime.Status{}, err
	}
	st, err := runtime.Replay(h)
	if err != nil {
		return runtime.Status{}, err
	}
	st.History = nil
	return st, nil
}

// AbortPending reports whether run runID, in state s, has an abort
// accepted that it has yet to take (RunStatus.AbortRequested), by the abort
// requests of its store (Store.AbortRequested; `flowgen runs` and `flowgen
// history` read a store's so). The store keeps a request until the run is
// over, for its resumes; it is pending only while the run takes aborts
// (runtime.RunState.TakesAbort): a run rolling back has taken it already
// (it recorded "-> aborting"), or rolls back after a failure, which an
// abort does not change.
func AbortPending(st AbortRequests, runID string, s runtime.RunState) bool {
	return s.TakesAbort() && st.AbortRequested(runID)
}

// AbortRequests says which runs have an abort request recorded: a Store,
// or a store opened read-only (`flowgen runs`).
type AbortRequests interface{ AbortRequested(runID string) bool }

// ListedRun is a run as GET /runs (and `flowgen runs -json`) lists it: its
// store.RunInfo, and abort_requested as GET /runs/{id} says it.
type ListedRun struct {
	store.RunInfo
	AbortRequested bool `json:"abort_requested,omitempty"`
}

// ListRun is the ListedRun of r, by the abort requests of its store st
// (nil: none known, as for runs of an Executor).
func ListRun(st AbortRequests, r store.RunInfo) ListedRun {
	return ListedRun{r, st != nil && AbortPending(st, r.RunID, r.State)}
}

// RunStatus is a run's status for the API.
type RunStatus struct {
	runtime.Status
	// AbortRequested: an abort was accepted (it is durable: Abort) and the
	// run has not recorded it yet, as its step in flight has not returned.
	// The run then rolls back and ends aborted (or compensation_failed),
	// even across a restart. Never set for a run rolling back
	// (AbortPending).
	AbortRequested bool `json:"abort_requested,omitempty"`
}

// Parked returns the number of runs waiting for an event that has not come
// (each an index entry of the subscriber; no goroutine).
func (e *Engine) Parked() int { return e.ws.count() }

// History returns a run's events. ctx bounds an Executor's calls, as does
// the engine's Close.
func (e *Engine) History(ctx context.Context, runID string) ([]runtime.Event, error) {
	ctx, done := e.readCtx(ctx)
	defer done()
	return e.history(ctx, runID)
}

// history is History under a ctx readCtx made.
func (e *Engine) history(ctx context.Context, runID string) ([]runtime.Event, error) {
	if x := e.opts.Executor; x != nil {
		return x.History(ctx, runID)
	}
	return e.store.Load(runID)
}

// readCtx is the context of a read that an entry point (Status, History,
// Runs, an HTTP handler) makes of its caller's ctx: with an Executor, ctx
// (context.Background() if nil) ended too when the engine closes, so that
// the read ends with the caller or with the engine, whichever comes
// first; done releases it. Without one, the store's reads take no context:
// ctx as it is.
func (e *Engine) readCtx(ctx context.Context) (_ context.Context, done func()) {
	if e.opts.Executor == nil {
		return ctx, func() {}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(e.baseCtx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// statusHistory is runID's history as a status reads it (Status, the run
// diagram), under a ctx readCtx made: its events without their states but
// the snapshot's, the state of the last event that has one, which is all
// runtime.Replay reads of them. A long run's states are most of its
// history's bytes (25,000 events, runtime.DefaultMaxHistory, each with a
// state of up to megabytes), and GET /runs/{id}, which the web view reads at
// each of the run's events, read them all at each request. A store that
// reads a page of a history (historyPager) is read a page at a time, as GET
// /runs/{id}/history reads it, without states, then the snapshot's event
// alone with its state; another store, or an Executor, gives the history
// whole.
func (e *Engine) statusHistory(ctx context.Context, runID string) ([]runtime.Event, error) {
	p, ok := e.store.(historyPager)
	if !ok || e.opts.Executor != nil {
		return e.history(ctx, runID)
	}
	var h []runtime.Event
	err := EachHistoryPage(p, runID, false, func(page []runtime.Event) error {
		h = append(h, page...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := len(h) - 1; i >= 0; i-- {
		ev, _, err := p.LoadPage(runID, h[i].Seq-1, 1, MaxHistoryPageBytes, true)
		if err != nil {
			return nil, err
		}
		if len(ev) == 1 && len(ev[0].State) > 0 {
			h[i].State = ev[0].State
			break
		}
	}
	return h, nil
}

// ErrListTruncated is returned by Runs, with the runs found, when the
// Executor stopped reading runs at its bound before it had seen all that
// could match (jsonflows reads at most 10,000 workflows a call): runs may
// be missing from the list, and from the pages after it. A narrower filter
// (flow, status, since, until) reads fewer. GET /runs answers such a list
// with "truncated": true.
var ErrListTruncated = errors.New("engine: the run list is cut short: the executor read as many runs as one list may read")

// Runs lists runs. Its runs are valid with an error wrapping
// ErrListTruncated.
// ctx bounds an Executor's calls, as does the engine's Close.
func (e *Engine) Runs(ctx context.Context, f store.Filter) ([]store.RunInfo, error) {
	if x := e.opts.Executor; x != nil {
		ctx, done := e.readCtx(ctx)
		defer done()
		return x.Runs(ctx, f)
	}
	return e.store.List(f)
}
