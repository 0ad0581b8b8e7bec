package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Waiting runs.
//
// A run that reaches an await waits in the runtime: it records its wait
// (what it waits for, until when) and calls the engine's subscriber, and
// its goroutine ends (runtime.Subscriber). The subscriber serves the wait
// from the inbox (inbox.go):
//
//   - a message claimed for the wait's key before is handed over again: the
//     process stopped between the claim and the run recording its wake-up;
//   - else the oldest pending message the wait matches is claimed, durably,
//     and handed over;
//   - else the wait is indexed by topic/event, and the inbox offers it each
//     message that becomes pending (the offer hook): the message is reserved
//     for the wait's key, claimed, then handed over.
//
// A failed claim (the store failed) puts the message back to pending,
// where no offer comes for it: the wait looks again after AwaitRetry, and
// longer, until the store answers (retry).
//
// A message the run does not take after all (it stopped waiting meanwhile:
// its deadline passed, it was aborted) is released: pending again, and
// offered again. The wait's deadline is the runtime's: a timer of the run,
// kept across restarts because the deadline is recorded in its history.
// A waiting run costs the runtime's Run value, an index entry here and a
// timer; no goroutine.
type subscriber struct{ e *Engine }

// waitSub is a wait the subscriber serves: what it takes from the inbox
// (not the whole runtime.Wait, which the run keeps).
type waitSub struct {
	req       takeReq
	deliver   func(runtime.Delivery) bool
	cancelled atomic.Bool // the run stopped waiting
	seq       uint64      // order of indexing: the oldest wait a message matches takes it
	// handing counts the offers that matched it and are claiming and
	// handing over their message: cancel lets them finish (Subscribe).
	handing sync.WaitGroup
}

// waits indexes the waits that found no message yet, so that a message
// finds the oldest wait it matches in time independent of how many runs
// wait: by topic/event, then, for waits that correlate, by field and
// value. Lock order: the inbox's mutex, then waits.mu.
type waits struct {
	mu   sync.Mutex
	byTE map[teKey]*teWaits
	n    int
	seq  uint64
}

// teWaits are the waits of one topic/event, each list oldest first: those
// that take any message, and those that take a message whose value at a
// field ("" is runtime.CorrelationField) is theirs.
type teWaits struct {
	any     []*waitSub
	byField map[string]byValue[*waitSub]
}

func newWaits() *waits { return &waits{byTE: map[teKey]*teWaits{}} }

func (ws *waits) add(s *waitSub) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.seq++
	s.seq = ws.seq
	k := teKey{s.req.topic, s.req.event}
	t := ws.byTE[k]
	if t == nil {
		t = &teWaits{byField: map[string]byValue[*waitSub]{}}
		ws.byTE[k] = t
	}
	if !s.req.correlated {
		t.any = append(t.any, s)
	} else {
		f := corrKey(s.req.field)
		if t.byField[f] == nil {
			t.byField[f] = byValue[*waitSub]{}
		}
		t.byField[f].put(s.req.value, s)
	}
	ws.n++
}

// remove drops s; false if it was not indexed (a message took it).
func (ws *waits) remove(s *waitSub) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.removeLocked(s)
}

func (ws *waits) removeLocked(s *waitSub) bool {
	k := teKey{s.req.topic, s.req.event}
	t := ws.byTE[k]
	if t == nil {
		return false
	}
	var found bool
	if !s.req.correlated {
		t.any, found = without(t.any, s)
	} else {
		f := corrKey(s.req.field)
		byV := t.byField[f]
		if found = byV.take(s.req.value, s); found && len(byV) == 0 {
			delete(t.byField, f)
		}
	}
	if !found {
		return false
	}
	if len(t.any) == 0 && len(t.byField) == 0 {
		delete(ws.byTE, k)
	}
	ws.n--
	return true
}

// match removes and returns the oldest wait that m matches: the oldest of
// the first wait taking any message and, for each field the waits of m's
// topic/event correlate on, the first wait of m's value there. The inbox's
// mutex is held (m's correlation cache is the inbox's).
func (ws *waits) match(m *inMsg) *waitSub {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	t := ws.byTE[teKey{m.k.Topic, m.k.Event}]
	if t == nil {
		return nil
	}
	var best *waitSub
	if len(t.any) > 0 {
		best = t.any[0]
	}
	for f, byV := range t.byField {
		v, ok := m.correlation(f)
		if !ok {
			continue
		}
		if list := byV[v]; len(list) > 0 && (best == nil || list[0].seq < best.seq) {
			best = list[0]
		}
	}
	if best != nil {
		ws.removeLocked(best)
		best.handing.Add(1) // under ws.mu: a cancel that finds it gone waits for the offer
	}
	return best
}

// unpark removes s, indexed, to serve it, as match does; false if it is
// not indexed (a cancel or an offer took it).
func (ws *waits) unpark(s *waitSub) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if !ws.removeLocked(s) {
		return false
	}
	s.handing.Add(1)
	return true
}

func (ws *waits) count() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.n
}

// errSubscribed: take found nothing, and the wait is indexed.
var errSubscribed = errors.New("engine: waiting")

// Subscribe implements runtime.Subscriber.
func (s subscriber) Subscribe(ctx context.Context, w runtime.Wait, deliver func(runtime.Delivery) bool) (func(), error) {
	e := s.e
	if _, err := e.in.consume(w.Topic, w.Event); err != nil {
		return nil, err
	}
	sub := &waitSub{req: takeReq{key: w.Key, topic: w.Topic, event: w.Event, correlated: w.Correlated, field: w.Field, value: w.Correlation}, deliver: deliver}
	if err := s.serve(ctx, sub); err != nil {
		return nil, err
	}
	return func() {
		if !w.Deadline.IsZero() && !e.clock.Now().Before(w.Deadline) {
			// At the deadline (the run's timer cancels before it times
			// out): events received before it are offered first.
			e.in.landed(w.Deadline)
		}
		if e.ws.remove(sub) {
			sub.cancelled.Store(true)
			return
		}
		// An offer matched it: its claim and hand-over finish first, so
		// that an event received in time is delivered when the run's
		// deadline cancels the wait before it times out (the runtime
		// refuses one received too late); a run no longer waiting
		// refuses it, and it is released.
		sub.handing.Wait()
		sub.cancelled.Store(true)
		if e.ws.remove(sub) { // the offer lost its message, and indexed it again
			return
		}
		// A message reserved for it and not claimed yet goes back.
		e.in.unreserve(sub.req.key)
	}, nil
}

// serve hands sub a message the inbox has for it, or indexes it.
func (s subscriber) serve(ctx context.Context, sub *waitSub) error {
	e := s.e
	if sub.cancelled.Load() {
		return nil
	}
	m, err := e.in.take(ctx, &sub.req, func() error {
		e.ws.add(sub)
		return errSubscribed
	})
	switch {
	case errors.Is(err, errSubscribed):
		return nil
	case err != nil:
		return err
	}
	s.hand(ctx, sub, &m)
	return nil
}

// hand gives the run a message claimed for its wait; one it does not take
// is released.
func (s subscriber) hand(ctx context.Context, sub *waitSub, m *store.Message) {
	if !sub.cancelled.Load() && sub.deliver(runtime.Delivery{Payload: m.Payload, Link: m.Link, Received: m.Received}) {
		return
	}
	if err := s.e.in.release(context.WithoutCancel(ctx), sub.req.key); err != nil {
		s.e.log.Error("releasing a message a run did not take", "topic", sub.req.topic, "event", sub.req.event, "key", sub.req.key, "error", err)
	}
}

// offer is the inbox's offer hook (under the inbox's mutex): a message that
// becomes pending goes to the oldest wait it matches, claimed and handed
// over on a goroutine of its own once the inbox's mutex is released.
func (s subscriber) offer(m *inMsg) (string, func()) {
	sub := s.e.ws.match(m)
	if sub == nil {
		return "", nil
	}
	s.e.bg.Add(1)
	return sub.req.key, func() {
		go func() {
			defer s.e.bg.Done()
			s.claimOffered(s.e.baseCtx, sub, m)
		}()
	}
}

// claimOffered claims m, offered to sub, and hands it over. sub.handing
// is held (match), and released once it is done.
func (s subscriber) claimOffered(ctx context.Context, sub *waitSub, m *inMsg) {
	got, err := s.e.in.claim(ctx, m, sub.req.key)
	switch {
	case err == nil:
		s.hand(ctx, sub, &got)
	case errors.Is(err, errLost):
		// Another engine sharing the inbox took it, or it expired:
		// the wait looks again, as a new one would.
		if err = s.serve(ctx, sub); err != nil {
			s.e.log.Error("serving a wait", "key", sub.req.key, "error", err)
		}
	default:
		// The store failed: the message is pending again, and no
		// offer comes for it.
		s.e.log.Error("claiming an awaited event", "topic", m.k.Topic, "event", m.k.Event, "id", m.k.ID, "key", sub.req.key, "error", err)
	}
	if err == nil {
		sub.handing.Done()
		return
	}
	s.retry(ctx, sub)
}

// AwaitRetry is how long a wait whose message the store failed to claim
// waits before it looks again (the message is pending again: no offer
// would come for it), doubling after each failure up to MaxAwaitRetry,
// for as long as the run waits and the engine is open. Meanwhile a new
// message is offered to it as to any wait.
const (
	AwaitRetry    = time.Second
	MaxAwaitRetry = time.Minute
)

// retry serves sub again, after AwaitRetry and longer, until the store
// answers: its message went back to pending when the store failed, and
// nothing offers a pending message again. sub.handing is held, and
// released while it sleeps (a cancel then finds sub indexed) and once it
// is done.
func (s subscriber) retry(ctx context.Context, sub *waitSub) {
	e := s.e
	for wait := AwaitRetry; ; wait = min(2*wait, MaxAwaitRetry) {
		if sub.cancelled.Load() {
			sub.handing.Done()
			return
		}
		e.ws.add(sub)
		sub.handing.Done()
		fire, stop := runtime.ClockTimer(e.clock, wait)
		select {
		case <-fire:
		case <-e.in.quit: // closing
			stop()
			return
		}
		if !e.ws.unpark(sub) {
			return // cancelled, or an offer took it, which serves it
		}
		err := s.serve(ctx, sub)
		if err == nil {
			sub.handing.Done()
			return
		}
		e.log.Error("serving a wait", "key", sub.req.key, "error", err)
	}
}
