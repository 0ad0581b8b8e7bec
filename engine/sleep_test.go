package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// remindJSON sleeps two weeks, publishes a reminder, then sleeps until the
// time in the state's FollowUpAt, bounded by a 30-day deadline.
const remindJSON = `{
  "version": 1,
  "flows": [{
    "name": "Remind",
    "state": "RemindState",
    "steps": [
      {"name": "Wait", "action": {"kind": "sleep", "duration": "336h"}},
      {"name": "Remind", "action": {"kind": "publish", "topic": "mail", "event": "order.reminder", "request": "Contact"}, "irreversible": true},
      {"name": "FollowUp", "action": {"kind": "sleep", "until": "FollowUpAt"}, "deadline": "720h",
       "publish": [{"topic": "mail", "event": "order.followup", "payload": "Contact"}], "irreversible": true,
       "on": [{"on": "ok", "target": "done"}, {"on": "timeout", "target": "Late"}]},
      {"name": "Late", "action": {"kind": "publish", "topic": "mail", "event": "order.late"}, "irreversible": true}
    ]
  }]
}`

var remindEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// remindEngine starts an engine running remindJSON on st with clock.
func remindEngine(t *testing.T, st Store, clock runtime.Clock) *Engine {
	t.Helper()
	e, err := New(Options{Store: st, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("remind.json", []byte(remindJSON)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

func startRemind(t *testing.T, e *Engine, followUpAt any) string {
	t.Helper()
	state, err := json.Marshal(map[string]any{"Contact": "ann@example.com", "FollowUpAt": followUpAt})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.StartRun(context.Background(), "Remind", state, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sleeping waits until run id sleeps in step with its timer armed, and
// returns the wait it recorded.
func sleeping(t *testing.T, e *Engine, clock *runtime.FakeClock, id, step string) *runtime.Wait {
	t.Helper()
	var w *runtime.Wait
	waitFor(t, "run "+id+" to sleep in "+step, func() bool {
		st, err := e.Status(context.Background(), id)
		w = st.Wait
		return err == nil && st.Machine == runtime.WaitingState(step) && w != nil && clock.Pending() > 0
	})
	return w
}

func transitionsOf(t *testing.T, e *Engine, id string) string {
	t.Helper()
	h, err := e.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, ev := range h {
		line := ev.From + " -> " + ev.To
		if ev.Outcome != "" {
			line += " [" + ev.Outcome + "]"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// A JSON flow's sleeps are durable timers: the wake-up time is fixed when
// the step is entered and recorded; a run asleep when the engine stops
// wakes at that time after the restart, not 336h after it; `sleep until`
// reads the state field, an RFC 3339 time.
func TestSleepSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clock := runtime.NewFakeClock(remindEpoch)
	st := openStore(t, dir)
	e := remindEngine(t, st, clock)
	followUp := remindEpoch.Add(400 * time.Hour)
	id := startRemind(t, e, followUp.Format(time.RFC3339))
	if w := sleeping(t, e, clock, id, "Wait"); !w.Until.Equal(remindEpoch.Add(336*time.Hour)) || !w.Deadline.IsZero() {
		t.Fatalf("recorded wait %+v, want until +336h and no deadline", w)
	}
	clock.Advance(300 * time.Hour)
	closeEngine(t, e)
	if n := clock.Pending(); n != 0 {
		t.Fatalf("the stopped engine left %d timers armed", n)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, dir)
	defer st.Close()
	e = remindEngine(t, st, clock)
	defer closeEngine(t, e)
	if w := sleeping(t, e, clock, id, "Wait"); !w.Until.Equal(remindEpoch.Add(336 * time.Hour)) {
		t.Fatalf("resumed wait %+v, want the recorded wake-up time", w)
	}
	clock.Advance(35 * time.Hour)
	if s, _ := e.Status(context.Background(), id); s.Machine != runtime.WaitingState("Wait") {
		t.Fatalf("woke an hour early: %+v", s)
	}
	clock.Advance(time.Hour)
	w := sleeping(t, e, clock, id, "FollowUp")
	if !w.Until.Equal(followUp) || !w.Deadline.Equal(remindEpoch.Add((336+720)*time.Hour)) {
		t.Fatalf("follow-up wait %+v, want until the state's time and the deadline 720h after the step was entered", w)
	}
	clock.Advance(64 * time.Hour)
	waitFor(t, "run done", func() bool { s, _ := e.Status(context.Background(), id); return s.State == runtime.StateDone })
	want := strings.Join([]string{
		"pending -> Wait:waiting",
		"Wait:waiting -> Wait:running",
		"Wait:running -> Remind:running [ok]",
		"Remind:running -> FollowUp:waiting [ok]",
		"FollowUp:waiting -> FollowUp:running",
		"FollowUp:running -> done [ok]",
	}, "\n")
	if got := transitionsOf(t, e, id); got != want {
		t.Fatalf("history:\n%s\nwant:\n%s", got, want)
	}
	h, _ := e.History(context.Background(), id)
	if !h[1].Time.Equal(remindEpoch.Add(336*time.Hour)) || !h[4].Time.Equal(followUp) {
		t.Errorf("woke at %v and %v", h[1].Time, h[4].Time)
	}
}

// The deadline of a `sleep until` step ends it with the outcome timeout
// when the time is later; a time field that is missing, null or not an
// RFC 3339 time (a year past 9999 or before 0 is not one) ends it with the
// outcome error (routed by default to fail), naming the field, and the
// value if it is not a time; Abort ends a sleep.
func TestSleepOutcomes(t *testing.T) {
	clock := runtime.NewFakeClock(remindEpoch)
	fx := newFixture(t)
	e := remindEngine(t, fx.st, clock)
	defer closeEngine(t, e)

	late := startRemind(t, e, remindEpoch.Add(2000*time.Hour).Format(time.RFC3339Nano))
	sleeping(t, e, clock, late, "Wait")
	clock.Advance(336 * time.Hour)
	sleeping(t, e, clock, late, "FollowUp")
	clock.Advance(720 * time.Hour)
	waitFor(t, "late run done", func() bool { s, _ := e.Status(context.Background(), late); return s.State == runtime.StateDone })
	if got := transitionsOf(t, e, late); !strings.Contains(got, "FollowUp:waiting -> Late:running [timeout]") {
		t.Errorf("late run:\n%s", got)
	}

	// A value that is no time says so, shown cut to shownBytes; only a
	// field not set says that the time is not set.
	const unset = "(field FollowUpAt): the time to wake at is not set"
	const invalid = "sleeps until a time that is not valid (field FollowUpAt): the value "
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct{ state, want string }{
		{`{"Contact": "bob"}`, unset},
		{`{"Contact": "bob", "FollowUpAt": null}`, unset},
		{`{"Contact": "bob", "FollowUpAt": "next tuesday"}`, invalid + `"next tuesday" is not a time in RFC 3339`},
		{`{"Contact": "bob", "FollowUpAt": 42}`, invalid + `42 is not a time in RFC 3339`},
		{`{"Contact": "bob", "FollowUpAt": {"at": 1}}`, invalid + `{"at":1} is not a time in RFC 3339`},
		{`{"Contact": "bob", "FollowUpAt": "10000-01-01T00:00:00Z"}`, invalid + `"10000-01-01T00:00:00Z" is not a time in RFC 3339`},
		{`{"Contact": "bob", "FollowUpAt": "-0001-12-31T23:00:00Z"}`, invalid + `"-0001-12-31T23:00:00Z" is not a time in RFC 3339`},
		{`{"Contact": "bob", "FollowUpAt": "` + long + `"}`, invalid + `"` + long[:shownBytes] + `"... is not a time in RFC 3339`},
	} {
		state := tc.state
		id, err := e.StartRun(context.Background(), "Remind", json.RawMessage(state), "")
		if err != nil {
			t.Fatal(err)
		}
		sleeping(t, e, clock, id, "Wait")
		clock.Advance(336 * time.Hour)
		waitFor(t, "run failed", func() bool { s, _ := e.Status(context.Background(), id); return s.State == runtime.StateFailed })
		h, _ := e.History(context.Background(), id)
		if ev := h[len(h)-2]; ev.From != "FollowUp:waiting" || ev.To != "failing" || ev.Outcome != runtime.OutcomeError ||
			!strings.Contains(ev.Error, tc.want) {
			t.Errorf("state %.80s: %+v\nwant an error with %.400s", state, ev, tc.want)
		}
	}

	aborted := startRemind(t, e, remindEpoch.Format(time.RFC3339))
	sleeping(t, e, clock, aborted, "Wait")
	if err := e.Abort(context.Background(), aborted); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run aborted", func() bool { s, _ := e.Status(context.Background(), aborted); return s.State == runtime.StateAborted })
	if got, want := transitionsOf(t, e, aborted), "pending -> Wait:waiting\nWait:waiting -> aborting\naborting -> aborted"; got != want {
		t.Errorf("aborted run:\n%s\nwant:\n%s", got, want)
	}
	if clock.Pending() != 0 {
		t.Errorf("%d timers left armed", clock.Pending())
	}
}
