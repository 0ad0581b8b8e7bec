package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

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
	switch t.Kind {
	case runtime.TriggerRPC:
		if t.Endpoint == "" {
			return errors.New("rpc trigger without an endpoint")
		}
	case runtime.TriggerEvent:
		if t.Topic == "" || t.Event == "" {
			return errors.New("event trigger needs a topic and an event")
		}
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
// may be "" (a new ID) or chosen by the caller: starting an ID that already
// exists starts nothing and returns the ID with an error wrapping
// ErrRunExists, which makes client retries idempotent.
func (e *Engine) StartRun(ctx context.Context, flow string, state json.RawMessage, runID string) (string, error) {
	fe, err := e.lookup(flow)
	if err != nil {
		return "", err
	}
	return e.startRun(ctx, fe, state, runID)
}

// ErrRunExists is returned by StartRun for a run ID already used.
var ErrRunExists = errors.New("engine: run already exists")

func (e *Engine) startRun(ctx context.Context, fe *flowEntry, state json.RawMessage, runID string) (string, error) {
	if e.draining.Load() {
		return "", ErrClosed
	}
	if runID == "" {
		runID = e.newRunID()
	} else if strings.ContainsAny(runID, "/ \t\r\n") {
		return "", fmt.Errorf("%w: run ID %q contains '/' or white space", ErrBadState, runID)
	}
	unlock, err := e.locker.Lock(ctx, runID)
	if err != nil {
		return "", err
	}
	if _, ok := e.store.Get(runID); ok {
		unlock()
		return runID, fmt.Errorf("%w: %q", ErrRunExists, runID)
	}
	first := make(chan error, 1)
	e.firstMu.Lock()
	e.first[runID] = first
	e.firstMu.Unlock()
	r, err := fe.ops.start(runContext, state, runID)
	if err != nil {
		e.firstMu.Lock()
		delete(e.first, runID)
		e.firstMu.Unlock()
		unlock()
		return "", err
	}
	e.track(r, unlock)
	select {
	case err = <-first:
	case <-r.Done(): // stopped before its first event (a failing store)
		select {
		case err = <-first:
		default:
			err = fmt.Errorf("engine: run %q stopped before its first event", runID)
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	e.firstMu.Lock()
	delete(e.first, runID)
	e.firstMu.Unlock()
	if err != nil {
		if errors.Is(err, store.ErrSequence) {
			return runID, fmt.Errorf("%w: %q", ErrRunExists, runID)
		}
		return "", err
	}
	return runID, nil
}

// track keeps the engine's count of active runs and releases the run's lock
// when its goroutine is over (finished, parked or stopped by Close).
func (e *Engine) track(r runHandle, unlock func()) {
	e.active.Add(1)
	go func() {
		<-r.Done()
		unlock()
		e.active.Done()
	}()
}

// resumeFlow resumes every unfinished run of fe from the store.
func (e *Engine) resumeFlow(fe *flowEntry) {
	runs, err := e.store.List(store.Filter{Flow: fe.name, NonTerminal: true})
	if err != nil {
		e.log.Error("listing unfinished runs", "flow", fe.name, "error", err)
		return
	}
	for _, info := range runs {
		if err := e.resumeRun(e.baseCtx, fe, info.RunID, nil); err != nil {
			e.log.Error("run cannot resume", "flow", fe.name, "run_id", info.RunID, "error", err)
		}
	}
}

// resumeRun resumes runID (of fe) from its history, under its lock, with an
// optional delivery for its await step.
func (e *Engine) resumeRun(ctx context.Context, fe *flowEntry, runID string, d *delivery) error {
	unlock, err := e.locker.Lock(ctx, runID)
	if err != nil {
		return err
	}
	h, err := e.store.Load(runID)
	if err != nil {
		unlock()
		return err
	}
	last := h[len(h)-1]
	if _, _, ok := runtime.ParseMachineState(last.To); ok && isTerminal(last.To) {
		unlock()
		return nil
	}
	info := resumeInfoOf(h)
	if d != nil && !d.abort && (info == nil || info.key != d.key || last.To != runtime.RunningState(stepOfKey(d.key))) {
		// The run is no longer on the await the delivery is for (another
		// engine moved it on): give a reserved message back.
		unlock()
		e.aw.release(d)
		return nil
	}
	rctx := context.WithValue(runContext, resumeKey{}, info)
	if d != nil {
		if d.abort {
			c, cancel := context.WithCancelCause(rctx)
			cancel(runtime.ErrAborted)
			rctx = c
		}
		rctx = context.WithValue(rctx, deliveryKey{}, d)
	}
	r, err := fe.ops.resume(rctx, h)
	if err != nil {
		unlock()
		if errors.Is(err, runtime.ErrFinished) {
			return nil
		}
		return err
	}
	e.track(r, unlock)
	return nil
}

// runContext is the parent of every run's context. It is never cancelled:
// cancelling a run's context aborts the run (rolls it back), which closing
// the engine must never do.
var runContext = context.Background()

func isTerminal(machine string) bool { return runtime.RunState(machine).Terminal() }

// resumeInfo is what a resumed run's await step needs from its history:
// when the step it is on was entered (its wait counts from then).
type resumeInfo struct {
	key     string // idempotency key of the step the run is on
	entered time.Time
}

type resumeKey struct{}

// resumeInfoOf finds the step a history leaves its run on, its visit
// number and when it was entered.
func resumeInfoOf(h []runtime.Event) *resumeInfo {
	visits := map[string]int{}
	var cur string
	var info resumeInfo
	for i := range h {
		ev := &h[i]
		step, phase, _ := runtime.ParseMachineState(ev.To)
		if phase == runtime.PhaseRunning && ev.From != ev.To {
			visits[step]++
			cur = step
			info.entered = ev.Time
		}
	}
	if cur == "" {
		return nil
	}
	info.key = idempotencyKey(h[0].RunID, cur, visits[cur])
	return &info
}

// stepOfKey is the step of an idempotency key "<run>/<step>[#n]".
func stepOfKey(key string) string {
	_, step, _ := strings.Cut(key, "/")
	if i := strings.LastIndexByte(step, '#'); i > 0 {
		step = step[:i]
	}
	return step
}

// idempotencyKey is runtime.IdempotencyKey's format.
func idempotencyKey(runID, step string, visit int) string {
	k := runID + "/" + step
	if visit > 1 {
		k += "#" + strconv.Itoa(visit)
	}
	return k
}

// triggerHandler starts a run per event: the run ID is derived from the
// message ID, so an event delivered twice starts one run. A payload that
// can never start the flow (it does not decode into the state) is
// dead-lettered and acknowledged: redelivering it would fail forever and,
// on a broker that delivers in order, hold up the events behind it.
func (e *Engine) triggerHandler(fe *flowEntry) func(context.Context, Message) error {
	return func(ctx context.Context, m Message) error {
		_, err := e.startRun(ctx, fe, eventState(fe, m.Payload), derivedRunID(fe.name, "e", m.ID))
		switch {
		case errors.Is(err, ErrRunExists):
			return nil
		case errors.Is(err, ErrBadState):
			reason := fmt.Sprintf("cannot start flow %s: %v", fe.name, err)
			e.log.Warn("event dead-lettered", "flow", fe.name, "topic", m.Topic, "event", m.Event, "id", m.ID, "reason", reason)
			return e.in.deadLetter(ctx, m, reason)
		}
		return err
	}
}

// eventState is the initial state of a run started by an event: for a JSON
// flow, the payload's members when it is an object, else {"payload": it};
// for a generated flow, the payload decoded into the state type.
func eventState(fe *flowEntry, payload json.RawMessage) json.RawMessage {
	if fe.def == nil {
		return payload
	}
	p := strings.TrimSpace(string(payload))
	if strings.HasPrefix(p, "{") {
		return payload
	}
	if p == "" {
		p = "null"
	}
	return json.RawMessage(`{"payload":` + p + `}`)
}

// derivedRunID is a run ID that the same cause always gives: flow, kind of
// cause and a hash of its ID.
func derivedRunID(flow, kind, id string) string {
	sum := sha256.Sum256([]byte(flow + "\x00" + id))
	return kind + "-" + hex.EncodeToString(sum[:12])
}

// engineSink is the sink of every flow on the engine: the store, plus the
// two ways the engine stops a run without ending it. A run whose await step
// parks has its next event refused (not written), so its history ends on
// the await; while the engine closes, every event is written and then
// refused, so each run stops right after a recorded step boundary.
type engineSink struct{ e *Engine }

var (
	errParked   = errors.New("engine: run parked on an await")
	errDraining = errors.New("engine: closing; the run resumes at the next start")
)

func (s engineSink) Emit(ctx context.Context, ev runtime.Event) error {
	e := s.e
	if e.aw.takeParking(ev.RunID) {
		return errParked
	}
	err := e.store.Emit(ctx, ev)
	if ev.Seq == 1 {
		e.firstMu.Lock()
		if ch := e.first[ev.RunID]; ch != nil {
			ch <- err
		}
		e.firstMu.Unlock()
	}
	if err != nil {
		return err
	}
	if e.draining.Load() && !isTerminal(ev.To) {
		return errDraining
	}
	return nil
}

func (s engineSink) LoadHistory(_ context.Context, runID string) ([]runtime.Event, error) {
	return s.e.store.Load(runID)
}

// quietHandler drops the runtime's "sink refused" log records for the
// refusals that are the engine's own doing (parking, closing).
type quietHandler struct{ slog.Handler }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	quiet := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			if err, ok := a.Value.Any().(error); ok && (errors.Is(err, errParked) || errors.Is(err, errDraining)) {
				quiet = true
			}
		}
		return !quiet
	})
	if quiet {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}

// Locker serialises the drivers of a run: an engine holds a run's lock from
// the moment it starts or resumes the run until the run's goroutine is over
// (finished, parked, stopped). Engines that share a store must share a
// Locker, so that no step runs on two engines at once.
type Locker interface {
	// Lock waits for runID's lock until ctx ends.
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

// Abort aborts a run: a live run's step is cancelled, a parked run is
// resumed only to roll back. It returns runtime.ErrFinished for a run that
// is over and runtime.ErrUnknownRun for an unknown one.
func (e *Engine) Abort(ctx context.Context, runID string) error {
	info, ok := e.store.Get(runID)
	if !ok {
		return fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
	}
	if info.State.Terminal() {
		return fmt.Errorf("%w: %q is %s", runtime.ErrFinished, runID, info.State)
	}
	fe, err := e.lookup(info.Flow)
	if err != nil {
		return err
	}
	if e.aw.abortLive(fe, runID) {
		return nil
	}
	// Not live (parked, or waiting for its flow): resume it aborted.
	e.aw.unpark(runID)
	return e.resumeRun(ctx, fe, runID, &delivery{abort: true})
}

// Status returns a run's status from its history, with what it waits for
// when it is parked.
func (e *Engine) Status(runID string) (RunStatus, error) {
	h, err := e.store.Load(runID)
	if err != nil {
		return RunStatus{}, err
	}
	st, err := runtime.Replay(h)
	if err != nil {
		return RunStatus{}, err
	}
	st.History = nil
	return RunStatus{Status: st, Waiting: e.aw.waiting(runID)}, nil
}

// RunStatus is a run's status for the API.
type RunStatus struct {
	runtime.Status
	Waiting *Waiting `json:"waiting,omitempty"`
}

// History returns a run's events.
func (e *Engine) History(runID string) ([]runtime.Event, error) { return e.store.Load(runID) }

// Runs lists runs.
func (e *Engine) Runs(f store.Filter) ([]store.RunInfo, error) { return e.store.List(f) }
