package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flowgen/flowgen/internal/ratelog"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Schedules fire once per tick, across restarts and across engines sharing
// a store: the run a tick starts has an ID derived from the flow and the
// tick's time, so starting it twice starts one run (the store refuses a
// second first event). Ticks are deterministic (runtime.ParseSchedule, the
// one schedule parser, which Check uses too): cron expressions by their
// calendar, "@every d" on a fixed grid, so every engine and every restart
// agrees on them. At start, if ticks were missed while no engine ran, the
// latest missed one fires once (not every missed one); a flow that never
// fired does not catch up. A tick refused for the runs in flight
// (Options.MaxRunning) is a tick missed too: once room frees, the latest
// tick due fires once.

// tickRunID is the ID of the run a tick starts: "sched-<unix seconds>-"
// and the schedule's key (ScheduleKey), so that the latest fired tick can
// be found among a flow's runs.
func tickRunID(flow, spec string, tick time.Time) string {
	return tickPrefix + strconv.FormatInt(tick.Unix(), 10) + "-" + ScheduleKey(flow, spec)
}

// ScheduleKey names the schedule spec of flow: 12 hex digits of the
// SHA-256 of the flow's name and the spec in canonical form
// (runtime.CanonicalSchedule: white space is not part of it, so two
// spacings of one spec are one schedule, not two runs a tick). Its ticks'
// run IDs end with it, and a TickClaimer is asked about it.
func ScheduleKey(flow, spec string) string {
	sum := sha256.Sum256([]byte(flow + "\x00" + runtime.CanonicalSchedule(spec)))
	return hex.EncodeToString(sum[:6])
}

// tickPrefix starts every tick's run ID.
const tickPrefix = "sched-"

func tickOf(runID, flow, spec string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(runID, tickPrefix)
	if !ok {
		return time.Time{}, false
	}
	sec, _, ok := strings.Cut(rest, "-")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	t := time.Unix(n, 0)
	if tickRunID(flow, spec, t) != runID {
		return time.Time{}, false
	}
	return t, true
}

// DelayedTickLogBurst is how many "scheduled run delayed" lines (a tick
// refused for the runs in flight, logged once until its schedule starts a
// run again) the engine writes in a DelayedTickLogInterval; it counts the
// others and logs their number with the first line of a later interval
// ("scheduled runs delayed, not logged"): a schedule whose runs fill the
// bound at every tick would otherwise log a line a tick.
const (
	DelayedTickLogBurst    = 20
	DelayedTickLogInterval = time.Minute
)

type scheduler struct {
	e       *Engine
	delayed *ratelog.Logger // ticks refused for the runs in flight
	mu      sync.Mutex
	// ctx ends when the engine closes (stop); each schedule's loop runs
	// on a context of its own made from it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   bool
}

func newScheduler(e *Engine) *scheduler {
	ctx, cancel := context.WithCancel(context.Background())
	return &scheduler{e: e, ctx: ctx, cancel: cancel,
		delayed: &ratelog.Logger{Bound: ratelog.Bound{Burst: DelayedTickLogBurst, Interval: DelayedTickLogInterval},
			Log: e.log, Now: e.clock.Now, Suppressed: "scheduled runs delayed, not logged"}}
}

// add starts fe's schedule spec; the returned func stops it.
func (sc *scheduler) add(fe *flowEntry, spec string) func() {
	s, err := runtime.ParseSchedule(spec)
	if err != nil { // validated at registration
		sc.e.log.Error("invalid schedule", "flow", fe.name, "schedule", spec, "error", err)
		return func() {}
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.done {
		return func() {}
	}
	// ctx ends when the schedule stops, or the engine closes: a claim of a
	// tick (TickClaimer) in progress is given up, and a tick not started
	// yet is not.
	ctx, cancel := context.WithCancel(sc.ctx)
	done := make(chan struct{})
	sc.wg.Add(1)
	go func() {
		defer close(done)
		sc.loop(ctx, fe, spec, s)
	}()
	// It returns once the loop has: a tick the loop was starting has
	// started by then, or never does, so that a redefinition of the flow
	// without the schedule (PUT /flows) is answered once no run of the
	// schedule can start.
	return func() {
		cancel()
		<-done
	}
}

func (sc *scheduler) loop(ctx context.Context, fe *flowEntry, spec string, s runtime.Schedule) {
	defer sc.wg.Done()
	clock := sc.e.clock
	// busy is the latest tick refused for the runs in flight (ErrBusy),
	// zero when none is. It is a tick missed, as one missed while no
	// engine ran is: tried again every RetryAfter seconds, the latest tick
	// due then fires once room frees (its run ID is the tick's, so it
	// never starts twice), and a later tick's timer supersedes it.
	var busy time.Time
	fire := func(tick time.Time) {
		claimErr, refused := sc.fire(ctx, fe, spec, tick)
		if !refused || ctx.Err() != nil {
			busy = time.Time{}
			return
		}
		if busy.IsZero() { // once a refused stretch, not once a retry
			if claimErr != nil {
				sc.delayed.Warn("scheduled run delayed: its tick could not be claimed on the broker, which decides which process sharing it starts the tick (engine.TickClaimer); the latest tick due starts once it can be",
					"flow", fe.name, "schedule", spec, "tick", tick, "error", claimErr)
			} else {
				sc.delayed.Warn("scheduled run delayed: runs in flight at their bound (Options.MaxRunning, serve -max-running); the latest tick due starts once a run ends or waits",
					"flow", fe.name, "schedule", spec, "tick", tick, "running", sc.e.running.Load(), "max_running", sc.e.maxRunning())
			}
		}
		busy = tick
	}
	if t, ok := sc.missed(ctx, fe, spec, s, clock.Now()); ok {
		fire(t)
	}
	for {
		now := clock.Now()
		next := s.Next(now) // the tick the timer is for
		wait := next.Sub(now)
		if retry := RetryAfter * time.Second; !busy.IsZero() && (next.IsZero() || wait > retry) {
			next, wait = busy, retry
		}
		if next.IsZero() {
			return // a cron expression that never fires again
		}
		timer, cancelTimer := runtime.ClockTimer(clock, wait)
		select {
		case <-timer:
		case <-ctx.Done():
			cancelTimer()
			return
		}
		// A timer that fires late (a process stopped or a machine asleep
		// past several ticks), or a busy tick's retry, fires the latest
		// tick due, as a start after an outage does, not the first one
		// missed.
		if latest, ok := latestTick(s, next, clock.Now()); ok {
			next = latest
		}
		fire(next)
	}
}

// missed returns the latest tick at or before now that fired no run, when
// the flow's schedule fired before: a run of its ticks is in the store,
// or the broker (TickClaimer) granted one of them to this engine.
func (sc *scheduler) missed(ctx context.Context, fe *flowEntry, spec string, s runtime.Schedule, now time.Time) (time.Time, bool) {
	// The runs are read newest first, a page at a time, until one is a
	// tick's: ticks start in their order, so the latest is among the
	// newest (a flow that ticks every minute has half a million runs a
	// year, which a start and each reload of the flow read before).
	var last time.Time
	f := store.Filter{Flow: fe.name, Newest: true, Limit: 256}
	for {
		runs, err := sc.e.store.List(f)
		if err != nil {
			return time.Time{}, false
		}
		for _, r := range runs {
			if t, ok := tickOf(r.RunID, fe.name, spec); ok && t.After(last) {
				last = t
			}
		}
		if !last.IsZero() || len(runs) < f.Limit {
			break
		}
		f.After = runs[len(runs)-1].RunID
	}
	if last.IsZero() {
		// The store's first tick of the schedule may be one the broker
		// granted this engine, which died before its run was recorded:
		// no other engine starts that tick (ClaimTick), so this one
		// does, as a tick it missed (a tick is a whole second).
		granted := sc.grantedTick(ctx, fe, spec)
		if granted.IsZero() {
			return time.Time{}, false
		}
		last = granted.Add(-time.Second)
	}
	tick, ok := latestTick(s, last, now)
	// A tick older than the store's retention may have fired, ended and
	// been removed since (last is then an older tick whose run is not
	// over): nothing in the store tells it from a tick missed, and firing
	// it would run it again. It is left alone; the next tick fires.
	if r, isR := sc.e.store.(retainer); ok && isR && r.Retain() > 0 && tick.Before(now.Add(-r.Retain())) {
		sc.e.log.Warn("missed tick not fired: older than the store's retention, its run may have ended and been removed", "flow", fe.name, "tick", tick)
		return time.Time{}, false
	}
	return tick, ok
}

// grantedTick is the latest tick of fe's schedule spec that the broker,
// a TickClaimer, granted this engine; the zero time when it granted a
// later one to another engine, or none, or is not a TickClaimer, or
// cannot be asked (logged: the tick is then left alone, as by a store
// that lost its run).
func (sc *scheduler) grantedTick(ctx context.Context, fe *flowEntry, spec string) time.Time {
	c, ok := sc.e.broker.(TickClaimer)
	if !ok {
		return time.Time{}
	}
	cctx, cancel := context.WithTimeout(ctx, RetryAfter*time.Second)
	defer cancel()
	tick, holder, err := c.LatestClaim(cctx, ScheduleKey(fe.name, spec))
	if err != nil {
		if ctx.Err() == nil {
			sc.e.log.Warn("missed tick not looked for on the broker: a tick it granted this engine, which has no run of it, does not start", "flow", fe.name, "schedule", spec, "error", err)
		}
		return time.Time{}
	}
	if holder != sc.e.opts.ID {
		return time.Time{}
	}
	return tick
}

// retainer is a store that removes finished runs after a retention
// (*store.Store: Options.Retain).
type retainer interface{ Retain() time.Duration }

var _ retainer = (*store.Store)(nil)

// latestTick returns the latest tick of s after after and at or before now.
// A Schedule only tells the next tick, so it scans forward, from now less a
// window that doubles until it holds a tick: a long outage of a frequent
// schedule ("@every 1s" down for weeks) costs as little as a short one, and
// still fires its latest tick.
func latestTick(s runtime.Schedule, after, now time.Time) (time.Time, bool) {
	for w := time.Minute; ; w *= 2 {
		from := now.Add(-w)
		if !from.After(after) {
			from = after
		}
		var latest time.Time
		for t := s.Next(from); !t.IsZero() && !t.After(now); t = s.Next(t) {
			latest = t
		}
		if !latest.IsZero() || from.Equal(after) {
			return latest, !latest.IsZero()
		}
	}
}

// fire starts tick's run, and reports whether it was refused for now, to
// be tried again: for the runs in flight (ErrBusy: a tick counts against
// Options.MaxRunning as any start does, or a schedule that ticks faster
// than its runs end would grow them without bound), or because the
// broker, a TickClaimer, could not be asked which process starts it
// (claimErr). A tick the broker grants to another process starts nothing
// here, and neither does one whose schedule has stopped (ctx ended).
func (sc *scheduler) fire(ctx context.Context, fe *flowEntry, spec string, tick time.Time) (claimErr error, refused bool) {
	if c, ok := sc.e.broker.(TickClaimer); ok {
		cctx, cancel := context.WithTimeout(ctx, RetryAfter*time.Second)
		mine, err := c.ClaimTick(cctx, ScheduleKey(fe.name, spec), tick, sc.e.opts.ID)
		cancel()
		if err != nil {
			return err, true
		}
		if !mine {
			return nil, false
		}
	}
	if ctx.Err() != nil {
		return nil, false
	}
	var state json.RawMessage
	if fe.def != nil {
		state, _ = json.Marshal(map[string]any{"scheduled_at": tick.UTC()})
	}
	_, err := sc.e.startRun(context.Background(), fe, state, tickRunID(fe.name, spec, tick), false, admitTick)
	switch {
	case err == nil, errors.Is(err, ErrRunExists):
	case errors.Is(err, ErrBusy):
		return nil, true
	default:
		sc.e.log.Error("scheduled run did not start", "flow", fe.name, "tick", tick, "error", err)
	}
	return nil, false
}

func (sc *scheduler) stop() {
	sc.mu.Lock()
	if !sc.done {
		sc.done = true
		sc.cancel()
	}
	sc.mu.Unlock()
	sc.wg.Wait()
}
