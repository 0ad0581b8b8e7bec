package engine

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Parking: runs waiting for an event hold no goroutine.
//
// An await step never blocks (a JSON flow's, and a generated flow's
// runtime.NewAwait through the engine's subscriber): it takes its message
// from the inbox (inbox.go), or, when there is none yet, the step registers
// the run as parked (topic, event, correlation, deadline) in an in-memory
// index and returns; the engine's sink refuses the run's next event, so the
// run's goroutine ends and its history ends on "<await>:running". A parked
// run costs an index entry, no goroutine.
//
// The inbox offers every message that becomes pending to the parked runs
// (offer, under the inbox's lock, so that a run parking and a message
// arriving never miss each other): the oldest parked run it matches has the
// message reserved for its await's key and is resumed from its history; its
// await then takes (claims) the message. Deadlines are kept in one timer
// heap; a run whose wait is over is resumed to time out.

type deliveryKey struct{}

// delivery is what the engine hands a run it resumes for its await.
type delivery struct {
	key     string // idempotency key of the await it is for (a message may be reserved for it)
	timeout bool   // the wait is over
	abort   bool   // resumed only to be aborted
}

type parked struct {
	fe           *flowEntry
	runID, key   string
	step         string
	topic, event string
	correlated   bool
	field, corr  string // the payload path ("": correlation_id) and the value it must have
	since        time.Time
	deadline     time.Time // zero: none
	gone         bool
	hi           int // heap index
}

// Waiting describes what a parked run waits for.
type Waiting struct {
	Topic            string     `json:"topic"`
	Event            string     `json:"event"`
	Correlation      string     `json:"correlation,omitempty"`
	CorrelationField string     `json:"correlation_field,omitempty"` // "": correlation_id
	Since            time.Time  `json:"since"`
	Deadline         *time.Time `json:"deadline,omitempty"`
}

// anyCorr indexes parked runs whose await takes any event of its topic.
const anyCorr = "\x00any"

// corrKey indexes parked runs by what their await compares: the payload
// path and the value it must have.
type corrKey struct{ field, value string }

type awaits struct {
	e  *Engine
	in *inbox

	mu       sync.Mutex
	parked   map[teKey]map[corrKey][]*parked
	byRun    map[string]*parked
	parking  map[string]bool
	blocking map[teKey][]*waiter // generated flows' blocking awaits (subscriber.go)
	timers   parkHeap
	stopped  bool

	rearm    chan struct{}
	quit     chan struct{}
	timersOn bool
	bg       sync.WaitGroup
}

func newAwaits(e *Engine, in *inbox) *awaits {
	a := &awaits{
		e: e, in: in,
		parked:   map[teKey]map[corrKey][]*parked{},
		byRun:    map[string]*parked{},
		parking:  map[string]bool{},
		blocking: map[teKey][]*waiter{},
		rearm:    make(chan struct{}, 1),
		quit:     make(chan struct{}),
	}
	in.offer = a.offer
	return a
}

// offer is the inbox's offer hook (called under the inbox's lock): a
// message that becomes pending goes to the oldest parked run it matches,
// which is resumed, or to a blocking subscription that accepts it.
func (a *awaits) offer(m *inMsg) (string, func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.matchParked(m); p != nil {
		return p.key, func() { a.wake(p, &delivery{key: p.key}) }
	}
	if w := a.matchBlocking(m); w != nil {
		a.bg.Add(1)
		return w.key, func() {
			go func() {
				defer a.bg.Done()
				if _, err := a.in.claim(context.Background(), m, w.key); err != nil {
					a.e.log.Error("claiming an awaited event", "topic", m.k.Topic, "event", m.k.Event, "id", m.k.ID, "key", w.key, "error", err)
				}
			}()
		}
	}
	return "", nil
}

// matchParked finds and removes the parked run that m is for, oldest
// first; a.mu and the inbox's lock are held.
func (a *awaits) matchParked(m *inMsg) *parked {
	byCorr := a.parked[teKey{m.k.Topic, m.k.Event}]
	if byCorr == nil {
		return nil
	}
	var best *parked
	var bestKey corrKey
	for ck, list := range byCorr {
		if ck.field != anyCorr {
			if v, ok := m.correlation(ck.field); !ok || v != ck.value {
				continue
			}
		}
		for len(list) > 0 && list[0].gone {
			list = list[1:]
		}
		if len(list) == 0 {
			delete(byCorr, ck)
			continue
		}
		byCorr[ck] = list
		if best == nil || list[0].since.Before(best.since) {
			best, bestKey = list[0], ck
		}
	}
	if best == nil {
		return nil
	}
	byCorr[bestKey] = byCorr[bestKey][1:]
	a.unindex(best)
	return best
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

// release gives back a message reserved for a delivery's await and not
// taken (the run is no longer waiting for it): the inbox offers it again.
func (a *awaits) release(d *delivery) {
	if d != nil && !d.timeout && !d.abort {
		a.in.unreserve(d.key)
	}
}

// awaitReq is one await of a run: a JSON flow's await step, or a generated
// flow's runtime.NewAwait as runtime.AwaitFrom describes it.
type awaitReq struct {
	flow, step   string
	key          string // the step's idempotency key
	topic, event string
	correlated   bool
	field, corr  string        // the payload path ("": correlation_id) and the value it must have
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
	if spec.response != "" {
		p := m.Payload
		if len(p) == 0 {
			p = json.RawMessage("null")
		}
		if err := s.Set(spec.response, p); err != nil {
			return "", runtime.Permanent(err)
		}
	}
	return runtime.OutcomeOK, nil
}

// take returns the message the await r (running under ctx) takes from the
// inbox, claimed for it (inbox.take). When there is none, the wait is over
// (an error wrapping runtime.ErrTimeout), the run was aborted, or the run
// parks: it is indexed as waiting and the error is errParked, after which
// the engine's sink refuses the run's next event, so the run's goroutine
// ends with its history on the await.
func (a *awaits) take(ctx context.Context, r *awaitReq) (store.Message, error) {
	d, _ := ctx.Value(deliveryKey{}).(*delivery)
	if d != nil && d.key != r.key {
		d = nil
	}
	req := &takeReq{key: r.key, topic: r.topic, event: r.event, correlated: r.correlated, field: r.field, value: r.corr}
	return a.in.take(ctx, req, func() error { return a.park(ctx, r, d) })
}

// park times the await r out, or parks its run. The inbox's lock is held.
func (a *awaits) park(ctx context.Context, r *awaitReq, d *delivery) error {
	e := a.e
	now := e.clock.Now()
	entered := now
	if ri, _ := ctx.Value(resumeKey{}).(*resumeInfo); ri != nil && ri.key == r.key {
		entered = ri.entered
	}
	var deadline time.Time
	if r.wait > 0 {
		deadline = entered.Add(r.wait)
	}
	if (d != nil && d.timeout) || (!deadline.IsZero() && !now.Before(deadline)) {
		return runtime.Permanent(fmt.Errorf("%w: no %s %s within %v", runtime.ErrTimeout, r.topic, r.event, r.wait))
	}
	if err := ctx.Err(); err != nil { // aborted: do not park
		return context.Cause(ctx)
	}
	fe, ok := e.flowEntry(r.flow)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownFlow, r.flow)
	}
	runID := runtime.RunID(ctx)
	p := &parked{fe: fe, runID: runID, key: r.key, step: r.step, topic: r.topic, event: r.event,
		correlated: r.correlated, field: r.field, corr: r.corr, since: entered, deadline: deadline, hi: -1}
	ck := corrKey{r.field, r.corr}
	if !r.correlated {
		ck = corrKey{anyCorr, ""}
	}
	k := teKey{r.topic, r.event}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.parked[k] == nil {
		a.parked[k] = map[corrKey][]*parked{}
	}
	a.parked[k][ck] = append(a.parked[k][ck], p)
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
	return runtime.Permanent(errParked)
}

func (e *Engine) flowEntry(name string) (*flowEntry, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fe, ok := e.flows[name]
	return fe, ok
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
	w := &Waiting{Topic: p.topic, Event: p.event, Correlation: p.corr, CorrelationField: p.field, Since: p.since}
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
			fire, stop = clockTimer(clock, wait)
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

// stop ends the inbox's consumers and the timers; parked runs stay in the
// store.
func (a *awaits) stop() {
	a.in.stop()
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	a.mu.Unlock()
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
