package jsonflows

import (
	"fmt"
	"testing"
	"time"
	_ "time/tzdata" // the zones of the cases, whatever the machine has

	schedulepb "go.temporal.io/api/schedule/v1"
	"go.temporal.io/server/service/worker/scheduler"

	"github.com/flowgen/flowgen/runtime"
)

// A schedule's Temporal Schedule ticks at the instants the engine's does:
// Temporal's own spec compiler, given cronsOf, agrees with the engine's
// schedule (runtime.ParseSchedule) tick for tick over a year and more, for
// every form the language promises: zones (UTC without one), @every grids
// that do not divide a day, "?", and both day fields restricted.
func TestTemporalTicksAsTheEngine(t *testing.T) {
	for _, spec := range []string{
		"0 3 * * *",
		"*/15 9-17 * * MON-FRI",
		"0 0 1 JAN ?",
		"0 9 1 * MON",
		"30 8 1,15 * MON-FRI",
		"0 9 */2 * SUN",
		"0 0 1-7 * MON", // the 1st to the 7th and every Monday, not the first Monday
		"5/10 */3 * JAN-MAR/2 *",
		"0 12 * * 0,6",
		"0 12 ? * sat",
		"CRON_TZ=America/New_York 30 1 * * *", // through both DST changes
		"CRON_TZ=Europe/Paris 0 3 * * *",
		"CRON_TZ=America/New_York 30 2 * * *",
		"TZ=America/New_York 0 0 * * *",
		"@daily",
		"@weekly",
		"@monthly",
		"@every 7h",
		"@every 90m",
		"@every 13s",
	} {
		crons, err := cronsOf(spec)
		if err != nil {
			t.Fatalf("cronsOf(%q): %v", spec, err)
		}
		ts, err := scheduler.NewSpecBuilder().NewCompiledSpec(&schedulepb.ScheduleSpec{CronString: crons})
		if err != nil {
			t.Errorf("%q as %q: Temporal refuses it: %v", spec, crons, err)
			continue
		}
		s, err := runtime.ParseSchedule(spec)
		if err != nil {
			t.Fatal(err)
		}
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for n := 0; n < 400 && from.Year() < 2099; n++ { // Temporal's calendar ends in 2100
			want, got := s.Next(from), ts.GetNextTime("", from).Nominal
			if !got.Equal(want) {
				t.Errorf("%q as %q: after %v the engine ticks at %v, Temporal at %v", spec, crons, from, want.UTC(), got.UTC())
				break
			}
			from = want
		}
	}
}

// The one difference, which docs/temporal.md states: in a zone east of UTC
// a time the clock shows twice, on the day it goes back, fires once on
// Temporal, at its second occurrence (its calendar takes the time Go's
// time.Date picks), and twice on the engine (and on Temporal west of UTC,
// as America/New_York above).
func TestTemporalRepeatedHourEastOfUTC(t *testing.T) {
	const spec = "CRON_TZ=Europe/Paris 30 2 * * *"
	crons, err := cronsOf(spec)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := scheduler.NewSpecBuilder().NewCompiledSpec(&schedulepb.ScheduleSpec{CronString: crons})
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.ParseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	ticks := func(next func(time.Time) time.Time) (out []string) {
		// 2026-10-25: 03:00 CEST becomes 02:00 CET.
		for tick := next(time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC)); tick.Before(time.Date(2026, 10, 26, 12, 0, 0, 0, time.UTC)); tick = next(tick) {
			out = append(out, tick.UTC().Format("01-02T15:04Z"))
		}
		return out
	}
	engine := ticks(s.Next)
	temporal := ticks(func(t time.Time) time.Time { return ts.GetNextTime("", t).Nominal })
	if got := fmt.Sprint(engine, temporal); got != "[10-25T00:30Z 10-25T01:30Z 10-26T01:30Z] [10-25T01:30Z 10-26T01:30Z]" {
		t.Errorf("engine and Temporal ticks: %s", got)
	}
}
