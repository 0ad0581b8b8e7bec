// Command sleep runs the generated Remind flow, whose sleeps are durable
// timers, on a fake clock, and exits 1 when a run wakes at another time than
// the one it recorded, or goes anywhere unexpected: after 14 days, at the
// time in the state, at its deadline, aborted while it sleeps, and resumed by
// a new "process" from its history.
package main

import (
	"context"
	"strings"
	"time"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

func (handlers) Remind(_ context.Context, s *RemindState) error {
	s.Reminded = true
	if s.FollowUpAfter > 0 {
		s.FollowUpAt = s.OrderedAt.Add(s.FollowUpAfter)
	}
	return nil
}

func (handlers) GiveUp(_ context.Context, s *RemindState) error {
	s.GaveUp = true
	return nil
}

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const fortnight = 14 * 24 * time.Hour

// followedUp is the history of a run that slept two weeks, reminded, slept
// until the follow-up time and followed up.
var followedUp = []string{
	"pending -> Wait:waiting",
	"Wait:waiting -> Wait:running",
	"Wait:running -> Remind:running [ok]",
	"Remind:running -> FollowUp:waiting [ok]",
	"FollowUp:waiting -> FollowUp:running",
	"FollowUp:running -> done [ok]",
}

// env is one "process": a flow on a fake clock, a bus and a sink.
type env struct {
	clock *runtime.FakeClock
	bus   *runtime.MemoryBus
	sink  *runtime.MemorySink
	flow  *RemindFlow
}

func newEnv(now time.Time, sink *runtime.MemorySink) *env {
	e := &env{clock: runtime.NewFakeClock(now), bus: runtime.NewMemoryBus(), sink: sink}
	f, err := NewRemindFlow(handlers{}, runtime.WithClock(e.clock), runtime.WithPublisher(e.bus), runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewRemindFlow: %v", err)
	}
	e.flow = f
	return e
}

func (e *env) start(ctx context.Context, id string, after time.Duration) *RemindRun {
	run, err := e.flow.Start(ctx, RemindState{Contact: "ann@example.com", OrderedAt: epoch, FollowUpAfter: after}, runtime.WithRunID(id))
	check.Equal(id+": start error", err, nil)
	return run
}

// sleeping waits until run sleeps in step with its timer armed, and returns
// the wait its history recorded.
func (e *env) sleeping(run *RemindRun, step string) runtime.Wait {
	for range 10000 {
		if st := run.Status(); st.Machine == runtime.WaitingState(step) && st.Wait != nil && e.clock.Pending() > 0 {
			return *st.Wait
		}
		time.Sleep(time.Millisecond)
	}
	check.Fatalf("run %s never slept in %s: %+v", run.ID(), step, run.Status())
	return runtime.Wait{}
}

func main() {
	ctx := context.Background()

	// Two weeks, then the follow-up at the time Remind chose (20 days after
	// the order), within FollowUp's 720h deadline.
	e := newEnv(epoch, runtime.NewMemorySink())
	run := e.start(ctx, "ok-1", 20*24*time.Hour)
	w := e.sleeping(run, RemindStepWait)
	check.Equal("ok: wakes at", w.Until, epoch.Add(fortnight))
	check.Equal("ok: no deadline", w.Deadline.IsZero(), true)
	e.clock.Advance(fortnight - time.Minute)
	check.Equal("ok: asleep a minute before", run.Status().Machine, runtime.WaitingState(RemindStepWait))
	e.clock.Advance(time.Minute)
	w = e.sleeping(run, RemindStepFollowUp)
	check.Equal("ok: follows up at", w.Until, epoch.Add(20*24*time.Hour))
	check.Equal("ok: deadline", w.Deadline, epoch.Add(fortnight+720*time.Hour))
	e.clock.Advance(6 * 24 * time.Hour)
	res, err := run.Wait(ctx)
	check.Equal("ok: error", err, nil)
	check.Run("ok", e.sink, res.RunID, res.Final, runtime.StateDone, followedUp...)
	h := e.sink.History(res.RunID)
	check.Equal("ok: woke at", h[1].Time, epoch.Add(fortnight))
	check.Equal("ok: followed up at", h[4].Time, epoch.Add(20*24*time.Hour))
	pub := e.bus.Published()
	check.Equal("ok: publications", len(pub), 1)
	check.Equal("ok: publication", pub[0].Topic+" "+pub[0].Event+" "+string(pub[0].Payload), `mail order.followup "ann@example.com"`)

	// A follow-up time past FollowUp's deadline: the deadline ends the
	// sleep with the outcome timeout, routed to GiveUp, which fails the run.
	e = newEnv(epoch, runtime.NewMemorySink())
	run = e.start(ctx, "late-1", 60*24*time.Hour)
	e.sleeping(run, RemindStepWait)
	e.clock.Advance(fortnight)
	e.sleeping(run, RemindStepFollowUp)
	e.clock.Advance(720 * time.Hour)
	res, _ = run.Wait(ctx)
	check.Run("late", e.sink, res.RunID, res.Final, runtime.StateFailed,
		"pending -> Wait:waiting",
		"Wait:waiting -> Wait:running",
		"Wait:running -> Remind:running [ok]",
		"Remind:running -> FollowUp:waiting [ok]",
		"FollowUp:waiting -> GiveUp:running [timeout]",
		"GiveUp:running -> failing [ok]",
		"failing -> failed")
	check.Equal("late: gave up", res.State.GaveUp, true)
	check.Equal("late: nothing published", len(e.bus.Published()), 0)

	// A follow-up time never set (the zero time.Time): the step ends with
	// the outcome error at once, instead of sleeping forever, naming the
	// field.
	e = newEnv(epoch, runtime.NewMemorySink())
	run = e.start(ctx, "unset-1", 0)
	e.sleeping(run, RemindStepWait)
	e.clock.Advance(fortnight)
	res, _ = run.Wait(ctx)
	check.Run("unset", e.sink, res.RunID, res.Final, runtime.StateFailed,
		"pending -> Wait:waiting",
		"Wait:waiting -> Wait:running",
		"Wait:running -> Remind:running [ok]",
		"Remind:running -> FollowUp:waiting [ok]",
		"FollowUp:waiting -> failing [error]",
		"failing -> failed")
	h = e.sink.History(res.RunID)
	check.Equal("unset: why", strings.Contains(h[4].Error, "sleeps until the zero time (field FollowUpAt)"), true)

	// Abort while the run sleeps: the wait ends, its timer is stopped, and
	// nothing is left to roll back.
	e = newEnv(epoch, runtime.NewMemorySink())
	run = e.start(ctx, "abort-1", 20*24*time.Hour)
	e.sleeping(run, RemindStepWait)
	check.Equal("aborted: Abort error", e.flow.Abort(run.ID()), nil)
	res, _ = run.Wait(ctx)
	check.Run("aborted", e.sink, res.RunID, res.Final, runtime.StateAborted,
		"pending -> Wait:waiting",
		"Wait:waiting -> aborting",
		"aborting -> aborted")
	check.Equal("aborted: timers left", e.clock.Pending(), 0)
	check.Equal("aborted: reminded", res.State.Reminded, false)

	resumed(ctx)
}

// resumed: a "process" stops (Suspend) 300h into the two-week sleep; a new
// one, on the same history with a clock that went on, resumes the run, which
// wakes at the recorded time, 36h later, not two weeks after the resume.
func resumed(ctx context.Context) {
	sink := runtime.NewMemorySink()
	first := newEnv(epoch, sink)
	run := first.start(ctx, "resume-1", 20*24*time.Hour)
	first.sleeping(run, RemindStepWait)
	first.clock.Advance(300 * time.Hour)
	check.Equal("resumed: Suspend error", run.Suspend(), nil)
	if _, err := run.Wait(ctx); err == nil || !strings.Contains(err.Error(), "suspended") {
		check.Fatalf("resumed: the first process's run: %v", err)
	}
	check.Equal("resumed: the first process's timers", first.clock.Pending(), 0)

	second := newEnv(first.clock.Now(), sink)
	runs, err := second.flow.ResumeAll(ctx, sink)
	check.Equal("resumed: ResumeAll error", err, nil)
	check.Equal("resumed: runs resumed", len(runs), 1)
	run = runs[0]
	w := second.sleeping(run, RemindStepWait)
	check.Equal("resumed: wakes at the recorded time", w.Until, epoch.Add(fortnight))
	second.clock.Advance(35 * time.Hour)
	check.Equal("resumed: asleep an hour before", run.Status().Machine, runtime.WaitingState(RemindStepWait))
	second.clock.Advance(time.Hour)
	second.sleeping(run, RemindStepFollowUp)
	second.clock.Advance(6 * 24 * time.Hour)
	res, err := run.Wait(ctx)
	check.Equal("resumed: error", err, nil)
	check.Run("resumed", sink, res.RunID, res.Final, runtime.StateDone, followedUp...)
	check.Equal("resumed: woke at", sink.History(res.RunID)[1].Time, epoch.Add(fortnight))
	check.Equal("resumed: published", len(second.bus.Published()), 1)
}
