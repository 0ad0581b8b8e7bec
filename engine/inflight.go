package engine

// Runs in flight: the runs of this engine that hold a goroutine (running a
// step, backing off, rolling back), as opposed to the runs waiting on an
// await or a sleep, which hold none (a few KB each: see docs/engine.md).
// The engine counts them through the runtime's WithRunLeaving,
// WithRunParked and WithRunEnded hooks, and bounds the runs it starts by
// Options.MaxRunning. A run leaves them as it is about to record its end
// or the event that enters its wait (WithRunLeaving), before anyone can
// read it, or as it parks without such an event (resumed waiting): a
// client that saw a run end or wait and starts another is not refused for
// it. A woken run comes back (WithRunParked, parked false). From the
// point it leaves, the run's goroutine runs no step, backoff or rollback:
// it records the event and arms the wait, or records the end and releases
// the run, then exits. So the bound holds the runs doing work; goroutines
// beyond it are only such finishing ones, never running a step.
//
//   - an HTTP start beyond the bound answers 429 with Retry-After, and
//     changes nothing (no run is recorded): the client retries;
//   - an event posted to POST /events that starts runs reserves them all
//     before anything changes, so it too answers 429 and changes nothing;
//   - an event trigger's start from the broker fails, so the broker keeps
//     the event and delivers it again later (at least once);
//   - a schedule's tick beyond the bound is not started: the schedule
//     tries again every RetryAfter seconds, and once room frees starts the
//     latest tick due, once, as after an outage (schedule.go);
//   - resumed runs, runs woken from a wait and a call's child runs are not
//     refused: they are work already accepted. They count, so new starts
//     wait for them.
//
// Durable queueing was the other choice; refusing keeps every 2xx run
// running now, and puts the waiting where the client can see it.

import (
	"errors"
	"fmt"
	"iter"
	"time"
)

// DefaultMaxRunning is the default Options.MaxRunning: enough to keep a
// few services busy (64 connections each by default, httpcall.Limits)
// while bounding the goroutines, states and outbound requests of runs.
const DefaultMaxRunning = 1000

// RetryAfter is what a start refused for the bound (ErrBusy) answers in
// the Retry-After header, in seconds.
const RetryAfter = 1

// ErrBusy: the engine runs Options.MaxRunning runs already (HTTP 429).
var ErrBusy = errors.New("engine: too many runs in flight")

// admission says how a start counts against Options.MaxRunning. The
// bounded ones, refused with ErrBusy beyond the bound, say also what was
// refused: their refusals are counted apart (refusalSources).
type admission uint8

const (
	admitRequest admission = iota // bounded: a client's start (HTTP, StartRun, POST /events), answered 429
	admitEvent                    // bounded: an event trigger's start from the broker, delivered again later
	admitTick                     // bounded: a schedule's tick, tried again
	admitHeld                     // the caller reserved the slot (reserve)
	admitAlways                   // counted, never refused (accepted work: a call's child, an event's run that existed)
)

// refusalSources names what a refused start was, by its bounded
// admission: the values of the source label of the metric of refused
// starts (Telemetry.InFlight, docs/observability.md).
var refusalSources = [...]string{admitRequest: "request", admitEvent: "event", admitTick: "schedule"}

func (e *Engine) maxRunning() int64 {
	if e.opts.MaxRunning > 0 {
		return int64(e.opts.MaxRunning)
	}
	return DefaultMaxRunning
}

// reserve takes n slots of runs in flight, all or none, for starts of the
// bounded admission by.
func (e *Engine) reserve(n int, by admission) error {
	max := e.maxRunning()
	for {
		cur := e.running.Load()
		if cur+int64(n) > max {
			e.refused(cur, by)
			return fmt.Errorf("%w: %d running, at most %d (Options.MaxRunning, serve -max-running); retry in %ds", ErrBusy, cur, max, RetryAfter)
		}
		if e.running.CompareAndSwap(cur, cur+int64(n)) {
			return nil
		}
	}
}

// refused counts a refused start of the bounded admission by, and logs the
// first one every 10 seconds. The count is the only one: Stats and the
// metrics (inFlight) read it.
func (e *Engine) refused(running int64, by admission) {
	e.refusedStarts[by].Add(1)
	now := time.Now().UnixNano()
	last := e.lastRefusedLog.Load()
	if now-last >= int64(10*time.Second) && e.lastRefusedLog.CompareAndSwap(last, now) {
		e.log.Warn("runs in flight at their bound: starts are refused (429) or delayed (event triggers, schedule ticks) until runs finish or wait",
			"running", running, "max_running", e.maxRunning(), "refused_so_far", e.refusedTotal())
	}
}

// refusedTotal is the number of starts refused at the bound so far.
func (e *Engine) refusedTotal() uint64 {
	var n uint64
	for i := range e.refusedStarts {
		n += e.refusedStarts[i].Load()
	}
	return n
}

// inFlight is what the engine gives its Telemetry's metrics to read at
// each collection (Telemetry.InFlight): its runs in flight, their bound,
// and the starts refused so far by what was refused, each source from 0.
func (e *Engine) inFlight() (running, max int64, refused iter.Seq2[string, uint64]) {
	return e.running.Load(), e.maxRunning(), func(yield func(string, uint64) bool) {
		for i, source := range refusalSources {
			if !yield(source, e.refusedStarts[i].Load()) {
				return
			}
		}
	}
}

// runParked is the runtime's WithRunParked hook: a parked run holds no
// goroutine, so it leaves the runs in flight until it wakes.
func (e *Engine) runParked(runID string, parked bool) {
	lr := e.liveOf(runID)
	if lr == nil {
		return
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.parked == parked {
		return
	}
	lr.parked = parked
	if parked {
		e.running.Add(-1)
	} else {
		e.running.Add(1)
	}
}

// runLeaving is the runtime's WithRunLeaving hook: a run about to record
// its end, or the event that enters its wait, leaves the runs in flight,
// before that event can be read. Its parking then changes nothing
// (runParked); its wake brings it back.
func (e *Engine) runLeaving(runID string) {
	if lr := e.liveOf(runID); lr != nil {
		lr.mu.Lock()
		e.leaveInFlightLocked(lr)
		lr.mu.Unlock()
	}
}

// leaveInFlightLocked gives back lr's place among the runs in flight,
// once until it comes back (runParked): as the run is about to end or
// wait (runLeaving), or as it is untracked (not started, or its life here
// ended without an end: Suspend). lr.mu is held.
func (e *Engine) leaveInFlightLocked(lr *liveRun) {
	if !lr.parked {
		e.running.Add(-1)
	}
	lr.parked = true
}

// Stats is what an engine holds now, for operators (docs/engine.md#limits).
type Stats struct {
	// Running: runs in flight (running a step, backing off, rolling
	// back), at most MaxRunning for the runs the engine starts. A run
	// recording its end has left them (WithRunLeaving), though its
	// goroutine has that write still to make.
	Running    int64 `json:"running"`
	MaxRunning int64 `json:"max_running"`
	// Waiting: runs this engine drives that wait on an await, a sleep or
	// a child run (of a call, or of a rollback call), holding no
	// goroutine; for that moment, a run recording its end counts here.
	Waiting int64 `json:"waiting"`
	// Resuming: unfinished runs found in the store that are still to be
	// resumed (Options.ResumeWorkers resume them in the background).
	Resuming int64 `json:"resuming"`
	// RefusedStarts: starts refused with ErrBusy since the engine was
	// created (HTTP 429, event triggers delivered again later, and
	// schedule ticks, each try of which counts: see docs/engine.md#limits;
	// GET /metrics counts them apart, flowgen_starts_refused_total).
	RefusedStarts uint64 `json:"refused_starts"`
	// Broker: the in-process broker's, when the engine uses one.
	Broker *BrokerStats `json:"broker,omitempty"`
}

// Stats returns what the engine holds now.
func (e *Engine) Stats() Stats {
	e.liveMu.Lock()
	live := int64(len(e.live))
	e.liveMu.Unlock()
	running := e.running.Load()
	s := Stats{Running: running, MaxRunning: e.maxRunning(), Waiting: max(live-running, 0),
		Resuming: e.resuming.Load(), RefusedStarts: e.refusedTotal()}
	if mb, ok := e.broker.(*MemoryBroker); ok {
		bs := mb.Stats()
		s.Broker = &bs
	}
	return s
}
