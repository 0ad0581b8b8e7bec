package engine

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Durable awaits.
//
// An await step never blocks (a JSON flow's, and a generated flow's
// runtime.NewAwait through the engine's subscriber): when its event is not
// there yet, the step registers the run as parked (topic, event, correlation
// value, deadline) in an in-memory index and returns; the engine's sink
// refuses the run's next event, so the run's goroutine ends and its history
// ends on "<await>:running". A parked run costs an index entry, no
// goroutine.
//
// Awaited events arrive through the broker (one consumer per topic/event,
// named after the engine, so every engine sees every event) and are first
// written to the inbox (a Store, flow "$inbox", one record per message ID):
// a message ID seen before is not applied again. Then, under one mutex, an
// arriving event either finds a parked run (and resumes it, with the event
// reserved for it) or stays pending in the inbox, where the next await that
// matches finds it: an event that comes before its run reaches the await is
// not lost. The run takes the event by recording a claim (message ID ->
// the await's idempotency key) in the inbox before it applies it; after a
// crash between the claim and the step's end, the resumed await finds the
// event claimed for it. Deadlines are kept in one timer heap.
//
// Inbox records are runtime events of pseudo-runs "m:<message ID>":
// seq 1 "received" (the message), seq 2 "claimed" (Step is the key),
// seq 3 "done". The store's sequence check makes each transition happen
// once, whichever engine tries it.

const inboxFlow = "$inbox"

const (
	inReceived = "received:running"
	inClaimed  = "claimed:running"
	inDone     = "done"
)

type deliveryKey struct{}

// delivery is what the engine hands a run it resumes for its await.
type delivery struct {
	key     string // idempotency key of the await it is for
	msgID   string // a message reserved for it
	timeout bool   // the wait is over
	abort   bool   // resumed only to be aborted
}

type msgState uint8

const (
	msgPending msgState = iota
	msgReserved
	msgClaimed
)

type inboxMsg struct {
	Message
	corr    string // the payload's correlation_id
	hasCorr bool
	state   msgState
	by      string // claimed by this key
}

type parked struct {
	fe           *flowEntry
	runID, key   string
	step         string
	topic, event string
	correlated   bool
	corr         string
	since        time.Time
	deadline     time.Time // zero: none
	gone         bool
	hi           int // heap index
}

// Waiting describes what a parked run waits for.
type Waiting struct {
	Topic       string     `json:"topic"`
	Event       string     `json:"event"`
	Correlation string     `json:"correlation,omitempty"`
	Since       time.Time  `json:"since"`
	Deadline    *time.Time `json:"deadline,omitempty"`
}

type teKey [2]string

// anyCorr indexes parked runs whose await takes any event of its topic.
const anyCorr = "\x00any"

type waiter struct {
	key string
	h   func([]byte) bool
}

type awaits struct {
	e  *Engine
	st Store

	mu        sync.Mutex
	msgs      map[string]*inboxMsg // by message ID: pending, reserved, claimed
	pending   map[teKey][]*inboxMsg
	claimed   map[string]*inboxMsg // by the key that claimed it
	parked    map[teKey]map[string][]*parked
	byRun     map[string]*parked
	parking   map[string]bool
	finalize  map[string]finalizeInfo
	waiters   map[teKey][]*waiter // generated flows' blocking awaits
	consumers map[teKey]func()
	timers    parkHeap
	stopped   bool

	rearm    chan struct{}
	quit     chan struct{}
	timersOn bool
	bg       sync.WaitGroup
}

type finalizeInfo struct {
	msgID   string
	running string // the await's machine state
}

func newAwaits(e *Engine, st Store) *awaits {
	return &awaits{
		e: e, st: st,
		msgs:      map[string]*inboxMsg{},
		pending:   map[teKey][]*inboxMsg{},
		claimed:   map[string]*inboxMsg{},
		parked:    map[teKey]map[string][]*parked{},
		byRun:     map[string]*parked{},
		parking:   map[string]bool{},
		finalize:  map[string]finalizeInfo{},
		waiters:   map[teKey][]*waiter{},
		consumers: map[teKey]func(){},
		rearm:     make(chan struct{}, 1),
		quit:      make(chan struct{}),
	}
}

// correlation extracts the payload's correlation_id the way the runtime
// compares it (runtime.CorrelationField): a string's value, anything else
// as written.
func correlation(payload []byte) (string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return "", false
	}
	raw, ok := m[runtime.CorrelationField]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(raw), true
}

type inboxBody struct {
	Topic   string          `json:"topic"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

func (a *awaits) record(m *Message, seq uint64, from, to, step string, body json.RawMessage) runtime.Event {
	return runtime.Event{RunID: "m:" + m.ID, Seq: seq, Time: a.e.clock.Now().Round(0), Flow: inboxFlow,
		Step: step, From: from, To: to, State: body}
}

// put records m durably; false when its ID was recorded before.
func (a *awaits) put(ctx context.Context, m *Message) (bool, error) {
	body, err := json.Marshal(inboxBody{Topic: m.Topic, Event: m.Event, Payload: m.Payload})
	if err != nil {
		return false, err
	}
	err = a.st.Emit(ctx, a.record(m, 1, runtime.MachinePending, inReceived, "", body))
	if errors.Is(err, store.ErrSequence) {
		return false, nil
	}
	return err == nil, err
}

// claim records that key takes m; it fails with store.ErrSequence when
// another key (on any engine) took it first.
func (a *awaits) claim(ctx context.Context, m *Message, key string) error {
	return a.st.Emit(ctx, a.record(m, 2, inReceived, inClaimed, key, nil))
}

func (a *awaits) done(ctx context.Context, m *Message) error {
	return a.st.Emit(ctx, a.record(m, 3, inClaimed, inDone, "", nil))
}

// load rebuilds the inbox index from the store: pending and claimed messages.
func (a *awaits) load(ctx context.Context) error {
	infos, err := a.st.List(store.Filter{Flow: inboxFlow, NonTerminal: true})
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, info := range infos {
		h, err := a.st.Load(info.RunID)
		if err != nil {
			return fmt.Errorf("engine: inbox record %q: %w", info.RunID, err)
		}
		m, ok := decodeInbox(h)
		if !ok {
			continue
		}
		a.index(m)
	}
	return nil
}

func decodeInbox(h []runtime.Event) (*inboxMsg, bool) {
	if len(h) == 0 {
		return nil, false
	}
	var body inboxBody
	if json.Unmarshal(h[0].State, &body) != nil {
		return nil, false
	}
	m := &inboxMsg{Message: Message{ID: strings.TrimPrefix(h[0].RunID, "m:"), Topic: body.Topic, Event: body.Event, Payload: body.Payload}}
	m.corr, m.hasCorr = correlation(m.Payload)
	switch h[len(h)-1].To {
	case inReceived:
		m.state = msgPending
	case inClaimed:
		m.state, m.by = msgClaimed, h[len(h)-1].Step
	default:
		return nil, false
	}
	return m, true
}

// index adds m to the in-memory index; a.mu is held.
func (a *awaits) index(m *inboxMsg) {
	a.msgs[m.ID] = m
	switch m.state {
	case msgPending:
		k := teKey{m.Topic, m.Event}
		a.pending[k] = append(a.pending[k], m)
	case msgClaimed:
		a.claimed[m.by] = m
	}
}

// consume makes sure the engine receives topic/event.
func (a *awaits) consume(topic, event string) error {
	k := teKey{topic, event}
	a.mu.Lock()
	if _, ok := a.consumers[k]; ok || a.stopped {
		a.mu.Unlock()
		return nil
	}
	a.consumers[k] = func() {}
	a.mu.Unlock()
	stop, err := a.e.broker.Consume(a.e.baseCtx, "await-"+a.e.opts.ID, topic, event, a.receive)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		delete(a.consumers, k)
		return fmt.Errorf("engine: consuming %s %s: %w", topic, event, err)
	}
	a.consumers[k] = stop
	return nil
}

// receive handles an awaited event from the broker: record, dedupe, then
// hand it to a parked run or keep it pending. It acknowledges (returns nil)
// only once the event is durable in the inbox.
func (a *awaits) receive(ctx context.Context, msg Message) error {
	a.mu.Lock()
	_, known := a.msgs[msg.ID]
	a.mu.Unlock()
	if known {
		return nil
	}
	m := &inboxMsg{Message: msg}
	m.corr, m.hasCorr = correlation(msg.Payload)
	added, err := a.put(ctx, &msg)
	if err != nil {
		return err
	}
	if !added {
		// Recorded before: by this engine before a restart, or by another
		// engine sharing the inbox. Only a message nobody took is news.
		h, err := a.st.Load("m:" + msg.ID)
		if err != nil {
			return err
		}
		rec, ok := decodeInbox(h)
		if !ok || rec.state != msgPending {
			return nil
		}
		m = rec
	}
	a.mu.Lock()
	if _, known := a.msgs[m.ID]; known {
		a.mu.Unlock()
		return nil
	}
	a.msgs[m.ID] = m
	if p := a.matchParked(m); p != nil {
		m.state, m.by = msgReserved, p.key
		a.mu.Unlock()
		a.wake(p, &delivery{key: p.key, msgID: m.ID})
		return nil
	}
	if w := a.matchWaiter(m); w != nil {
		m.state, m.by = msgReserved, w.key
		a.setFinalize(w.key, m.ID)
		a.mu.Unlock()
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			a.claimFor(context.Background(), m, w.key)
		}()
		return nil
	}
	k := teKey{m.Topic, m.Event}
	a.pending[k] = append(a.pending[k], m)
	a.mu.Unlock()
	return nil
}

// matchParked finds and removes the parked run that m is for, oldest
// first; a.mu is held.
func (a *awaits) matchParked(m *inboxMsg) *parked {
	byCorr := a.parked[teKey{m.Topic, m.Event}]
	if byCorr == nil {
		return nil
	}
	var best *parked
	var bestKey string
	for _, c := range []string{m.corr, anyCorr} {
		if c == m.corr && !m.hasCorr {
			continue
		}
		list := byCorr[c]
		for len(list) > 0 && list[0].gone {
			list = list[1:]
		}
		byCorr[c] = list
		if len(list) > 0 && (best == nil || list[0].since.Before(best.since)) {
			best, bestKey = list[0], c
		}
	}
	if best == nil {
		return nil
	}
	byCorr[bestKey] = byCorr[bestKey][1:]
	a.unindex(best)
	return best
}

// matchWaiter offers m to the blocking awaits of generated flows; a.mu is
// held. The waiter's handler applies the runtime's correlation rule.
func (a *awaits) matchWaiter(m *inboxMsg) *waiter {
	k := teKey{m.Topic, m.Event}
	for i, w := range a.waiters[k] {
		if w.h(m.Payload) {
			a.waiters[k] = append(a.waiters[k][:i:i], a.waiters[k][i+1:]...)
			return w
		}
	}
	return nil
}

// unindex forgets p as parked; a.mu is held.
func (a *awaits) unindex(p *parked) {
	p.gone = true
	if a.byRun[p.runID] == p {
		delete(a.byRun, p.runID)
	}
	if p.hi >= 0 && p.hi < len(a.timers) && a.timers[p.hi] == p {
		heap.Remove(&a.timers, p.hi)
	}
}

// unpark forgets runID's parked await (Abort).
func (a *awaits) unpark(runID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.byRun[runID]; p != nil {
		a.unindex(p)
	}
}

// wake resumes a parked run in the background.
func (a *awaits) wake(p *parked, d *delivery) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		fe := p.fe
		if cur, ok := a.e.flowEntry(fe.name); ok {
			fe = cur // the flow was replaced (PUT /flows) while the run waited
		}
		if err := a.e.resumeRun(a.e.baseCtx, fe, p.runID, d); err != nil {
			a.e.log.Error("parked run cannot resume", "flow", p.fe.name, "run_id", p.runID, "error", err)
			a.release(d)
		}
	}()
}

// release returns a reserved, unclaimed message to the pending ones (the
// run it was for is no longer waiting for it) and offers it again.
func (a *awaits) release(d *delivery) {
	if d == nil || d.msgID == "" {
		return
	}
	a.mu.Lock()
	m := a.msgs[d.msgID]
	if m == nil || m.state != msgReserved || m.by != d.key {
		a.mu.Unlock()
		return
	}
	m.state, m.by = msgPending, ""
	if p := a.matchParked(m); p != nil {
		m.state, m.by = msgReserved, p.key
		a.mu.Unlock()
		a.wake(p, &delivery{key: p.key, msgID: m.ID})
		return
	}
	k := teKey{m.Topic, m.Event}
	a.pending[k] = append(a.pending[k], m)
	a.mu.Unlock()
}

// claimFor records that key takes m (reserved for it). On failure (another
// engine took it) m is forgotten here.
func (a *awaits) claimFor(ctx context.Context, m *inboxMsg, key string) bool {
	err := a.claim(ctx, &m.Message, key)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		if !errors.Is(err, store.ErrSequence) {
			a.e.log.Error("claiming an awaited event", "id", m.ID, "key", key, "error", err)
			m.state, m.by = msgPending, ""
			k := teKey{m.Topic, m.Event}
			a.pending[k] = append(a.pending[k], m)
			return false
		}
		delete(a.msgs, m.ID)
		return false
	}
	m.state, m.by = msgClaimed, key
	a.claimed[key] = m
	return true
}

// takePending finds the oldest pending message an await matches and
// reserves it for key; a.mu is held.
func (a *awaits) takePending(topic, event string, correlated bool, corr, key string) *inboxMsg {
	k := teKey{topic, event}
	list := a.pending[k]
	for i, m := range list {
		if m.state != msgPending {
			continue
		}
		if correlated && (!m.hasCorr || m.corr != corr) {
			continue
		}
		a.pending[k] = append(list[:i:i], list[i+1:]...)
		m.state, m.by = msgReserved, key
		return m
	}
	return nil
}

// compact drops taken messages from the pending lists; a.mu is held.
func (a *awaits) dropTaken(k teKey) {
	list := a.pending[k]
	out := list[:0]
	for _, m := range list {
		if m.state == msgPending {
			out = append(out, m)
		}
	}
	a.pending[k] = out
}

// awaitReq is one await of a run: a JSON flow's await step, or a generated
// flow's runtime.NewAwait as runtime.AwaitFrom describes it.
type awaitReq struct {
	flow, step   string
	key          string // the step's idempotency key
	topic, event string
	correlated   bool
	corr         string
	wait         time.Duration // 0: none; counted from when the step was entered
}

// awaitExec is the Exec of an await step of a JSON flow.
func (e *Engine) awaitExec(ctx context.Context, s *State, spec *awaitSpec) (runtime.Outcome, error) {
	r := &awaitReq{flow: spec.flow, step: spec.step, key: runtime.IdempotencyKey(ctx),
		topic: spec.topic, event: spec.event, correlated: spec.correlate != "", wait: spec.wait}
	if r.correlated {
		r.corr = s.String(spec.correlate)
	}
	m, err := e.aw.take(ctx, r)
	if err != nil {
		return "", err
	}
	return e.aw.apply(s, spec, m, runtime.RunID(ctx))
}

// take returns the message the await r (running under ctx) takes: the one
// reserved for it by the event that woke its run, one it claimed before (a
// crash or a failed attempt came between the claim and the step's end), or
// the oldest pending one it matches, claimed for it. When there is none,
// the wait is over (an error wrapping runtime.ErrTimeout), the run was
// aborted, or the run parks: it is indexed as waiting and the error is
// errParked, after which the engine's sink refuses the run's next event, so
// the run's goroutine ends with its history on the await.
func (a *awaits) take(ctx context.Context, r *awaitReq) (*inboxMsg, error) {
	e := a.e
	key := r.key
	runID := runtime.RunID(ctx)
	d, _ := ctx.Value(deliveryKey{}).(*delivery)
	if d != nil && d.key != key {
		d = nil
	}
	// A message reserved for this await by the event that woke the run.
	if d != nil && d.msgID != "" {
		a.mu.Lock()
		m := a.msgs[d.msgID]
		a.mu.Unlock()
		if m != nil && m.state == msgReserved && m.by == key && a.claimFor(ctx, m, key) {
			return m, nil
		}
	}
	for {
		a.mu.Lock()
		if m := a.claimed[key]; m != nil { // claimed before a crash or a failed attempt
			a.mu.Unlock()
			return m, nil
		}
		m := a.takePending(r.topic, r.event, r.correlated, r.corr, key)
		if m == nil {
			break
		}
		a.mu.Unlock()
		if a.claimFor(ctx, m, key) {
			return m, nil
		}
	}
	// Nothing to take: time out, or park. a.mu is held.
	now := e.clock.Now()
	entered := now
	if ri, _ := ctx.Value(resumeKey{}).(*resumeInfo); ri != nil && ri.key == key {
		entered = ri.entered
	}
	var deadline time.Time
	if r.wait > 0 {
		deadline = entered.Add(r.wait)
	}
	if (d != nil && d.timeout) || (!deadline.IsZero() && !now.Before(deadline)) {
		a.mu.Unlock()
		return nil, runtime.Permanent(fmt.Errorf("%w: no %s %s within %v", runtime.ErrTimeout, r.topic, r.event, r.wait))
	}
	if err := ctx.Err(); err != nil { // aborted: do not park
		a.mu.Unlock()
		return nil, context.Cause(ctx)
	}
	fe, ok := e.flowEntry(r.flow)
	if !ok {
		a.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrUnknownFlow, r.flow)
	}
	p := &parked{fe: fe, runID: runID, key: key, step: r.step, topic: r.topic, event: r.event,
		correlated: r.correlated, corr: r.corr, since: entered, deadline: deadline, hi: -1}
	c := r.corr
	if !r.correlated {
		c = anyCorr
	}
	k := teKey{r.topic, r.event}
	if a.parked[k] == nil {
		a.parked[k] = map[string][]*parked{}
	}
	a.parked[k][c] = append(a.parked[k][c], p)
	if old := a.byRun[runID]; old != nil {
		a.unindex(old)
	}
	a.byRun[runID] = p
	a.parking[runID] = true
	if !deadline.IsZero() {
		heap.Push(&a.timers, p)
		if a.timers[0] == p {
			select {
			case a.rearm <- struct{}{}:
			default:
			}
		}
	}
	a.mu.Unlock()
	return nil, runtime.Permanent(errParked)
}

func (e *Engine) flowEntry(name string) (*flowEntry, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fe, ok := e.flows[name]
	return fe, ok
}

// apply writes the event's payload into the await's response field and
// marks the message to be finalised once the step has ended.
func (a *awaits) apply(s *State, spec *awaitSpec, m *inboxMsg, runID string) (runtime.Outcome, error) {
	if spec.response != "" {
		p := m.Payload
		if len(p) == 0 {
			p = json.RawMessage("null")
		}
		if err := s.Set(spec.response, p); err != nil {
			return "", runtime.Permanent(err)
		}
	}
	a.mu.Lock()
	a.finalize[runID] = finalizeInfo{msgID: m.ID, running: runtime.RunningState(spec.step)}
	a.mu.Unlock()
	return runtime.OutcomeOK, nil
}

// setFinalize marks message msgID to be done when the step of key ends;
// a.mu is held. key is an idempotency key: "<run>/<step>[#n]".
func (a *awaits) setFinalize(key, msgID string) {
	runID, _, ok := strings.Cut(key, "/")
	if !ok {
		return
	}
	a.finalize[runID] = finalizeInfo{msgID: msgID, running: runtime.RunningState(stepOfKey(key))}
}

// takeParking reports (once) whether runID's next event must be refused
// because its await parked.
func (a *awaits) takeParking(runID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.parking[runID] {
		delete(a.parking, runID)
		return true
	}
	return false
}

// emitted sees every event written: when a run leaves an await that took a
// message, the message is done.
func (a *awaits) emitted(ev *runtime.Event) {
	a.mu.Lock()
	f, ok := a.finalize[ev.RunID]
	if !ok || ev.From != f.running || ev.To == ev.From {
		a.mu.Unlock()
		return
	}
	delete(a.finalize, ev.RunID)
	m := a.msgs[f.msgID]
	if m != nil {
		delete(a.msgs, f.msgID)
		if a.claimed[m.by] == m {
			delete(a.claimed, m.by)
		}
	}
	a.mu.Unlock()
	if m == nil {
		return
	}
	// Counted with the runs: this is called from a run's goroutine, which
	// the engine still counts, so Close waits for it too.
	a.e.active.Add(1)
	go func() {
		defer a.e.active.Done()
		if err := a.done(context.Background(), &m.Message); err != nil && !errors.Is(err, store.ErrSequence) {
			a.e.log.Error("finishing an awaited event", "id", m.ID, "error", err)
		}
	}()
}

// abortLive aborts runID if it runs on this engine and is not parking.
func (a *awaits) abortLive(fe *flowEntry, runID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.parking[runID] {
		return false
	}
	r, ok := fe.ops.live(runID)
	if !ok {
		return false
	}
	return r.Abort() == nil
}

// waiting describes runID's parked await, or nil.
func (a *awaits) waiting(runID string) *Waiting {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.byRun[runID]
	if p == nil {
		return nil
	}
	w := &Waiting{Topic: p.topic, Event: p.event, Correlation: p.corr, Since: p.since}
	if !p.deadline.IsZero() {
		d := p.deadline
		w.Deadline = &d
	}
	return w
}

// Parked returns the number of runs parked on awaits.
func (e *Engine) Parked() int {
	e.aw.mu.Lock()
	defer e.aw.mu.Unlock()
	return len(e.aw.byRun)
}

// startTimers starts the goroutine that times parked awaits out.
func (a *awaits) startTimers() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timersOn || a.stopped {
		return
	}
	a.timersOn = true
	a.bg.Add(1)
	go a.timerLoop()
}

type stoppable interface {
	Timer(d time.Duration) (<-chan time.Time, func() bool)
}

func (a *awaits) timerLoop() {
	defer a.bg.Done()
	clock := a.e.clock
	for {
		a.mu.Lock()
		var wait time.Duration = -1
		now := clock.Now()
		var due []*parked
		for len(a.timers) > 0 && !now.Before(a.timers[0].deadline) {
			p := heap.Pop(&a.timers).(*parked)
			a.unindex(p)
			due = append(due, p)
		}
		if len(a.timers) > 0 {
			wait = a.timers[0].deadline.Sub(now)
		}
		a.mu.Unlock()
		for _, p := range due {
			a.wake(p, &delivery{key: p.key, timeout: true})
		}
		var fire <-chan time.Time
		stop := func() bool { return false }
		if wait >= 0 {
			if sc, ok := clock.(stoppable); ok {
				fire, stop = sc.Timer(wait)
			} else {
				fire = clock.After(wait)
			}
		}
		select {
		case <-fire:
		case <-a.rearm:
			stop()
		case <-a.quit:
			stop()
			return
		}
	}
}

// stop ends the consumers and the timers; parked runs stay in the store.
func (a *awaits) stop() {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	stops := make([]func(), 0, len(a.consumers))
	for _, s := range a.consumers {
		stops = append(stops, s)
	}
	a.mu.Unlock()
	for _, s := range stops {
		s()
	}
	close(a.quit)
	a.bg.Wait()
}

// parkHeap orders parked runs by deadline.
type parkHeap []*parked

func (h parkHeap) Len() int           { return len(h) }
func (h parkHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h parkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hi, h[j].hi = i, j
}
func (h *parkHeap) Push(x any) {
	p := x.(*parked)
	p.hi = len(*h)
	*h = append(*h, p)
}
func (h *parkHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	p.hi = -1
	*h = old[:len(old)-1]
	return p
}

// subscriber is the runtime.Subscriber of generated flows on the engine.
// Their awaits (runtime.NewAwait, runtime.NewEvent) describe themselves on
// Subscribe's context (runtime.AwaitFrom), and are served like JSON flows'
// awaits: a message already there is handed over before Subscribe returns,
// otherwise the run parks (Subscribe fails with errParked and the engine's
// sink ends the run's goroutine) and is resumed from its history when its
// event or its timeout comes. Their events go through the inbox, so they are
// deduplicated and survive restarts.
//
// A Subscribe call that does not come from such an await (an await step
// with a per-attempt timeout, which only a blocking wait honours; a flow
// not registered on this engine, which nothing would resume; a Go step
// subscribing by hand) blocks its goroutine as a plain subscription does,
// still fed through the inbox.
type subscriber struct{ e *Engine }

func (s subscriber) Subscribe(ctx context.Context, topic, event string, h func([]byte) bool) (func(), error) {
	a := s.e.aw
	if err := a.consume(topic, event); err != nil {
		return nil, err
	}
	if w, ok := runtime.AwaitFrom(ctx); ok && w.Topic == topic && w.Event == event && w.Key != "" {
		if _, registered := s.e.flowEntry(w.Flow); registered {
			return a.serve(ctx, &w, h)
		}
	}
	key := runtime.IdempotencyKey(ctx)
	a.mu.Lock()
	if m := a.claimed[key]; m != nil && h(m.Payload) {
		a.setFinalize(key, m.ID)
		a.mu.Unlock()
		return func() {}, nil
	}
	k := teKey{topic, event}
	for _, m := range a.pending[k] {
		if m.state == msgPending && h(m.Payload) {
			m.state, m.by = msgReserved, key
			a.dropTaken(k)
			a.setFinalize(key, m.ID)
			a.mu.Unlock()
			a.claimFor(ctx, m, key)
			return func() {}, nil
		}
	}
	w := &waiter{key: key, h: h}
	a.waiters[k] = append(a.waiters[k], w)
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		for i, x := range a.waiters[k] {
			if x == w {
				a.waiters[k] = append(a.waiters[k][:i:i], a.waiters[k][i+1:]...)
				return
			}
		}
	}, nil
}

// serve gives the await w the message it takes (see take), or parks its
// run.
func (a *awaits) serve(ctx context.Context, w *runtime.AwaitInfo, h func([]byte) bool) (func(), error) {
	m, err := a.take(ctx, &awaitReq{flow: w.Flow, step: w.Step, key: w.Key, topic: w.Topic, event: w.Event,
		correlated: w.Correlated, corr: w.Correlation, wait: dsl.WaitBound(w.Timeout, w.Deadline)})
	if err != nil {
		return nil, err
	}
	// h applies the runtime's correlation rule, which correlation() copies:
	// it refuses a message taken for it only if the two rules disagree.
	if !h(m.Payload) {
		return nil, runtime.Permanent(fmt.Errorf("engine: await %s refused message %q taken for it", w.Key, m.ID))
	}
	a.mu.Lock()
	a.finalize[runtime.RunID(ctx)] = finalizeInfo{msgID: m.ID, running: runtime.RunningState(w.Step)}
	a.mu.Unlock()
	return func() {}, nil
}
