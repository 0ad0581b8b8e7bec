package runtime

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
)

// Schedule is when a schedule trigger fires.
type Schedule interface {
	// Next returns the first tick strictly after t, or the zero time when
	// the schedule never fires again.
	Next(t time.Time) time.Time
}

// ParseSchedule parses the spec of a schedule trigger (Trigger.Schedule,
// `trigger schedule "<spec>"`). It is the project's only schedule parser:
// the compiler's checks (dsl.Check) reject with its error what the engine
// could not run, and the engine fires the ticks of the Schedule it
// returns, so the two cannot accept different languages. It lives here,
// beside Trigger, because a schedule is part of what a trigger means and
// whoever holds a Trigger (generated code, the engine, a hand-written flow)
// can check it without the compiler; the cost is the runtime's dependency
// on github.com/robfig/cron/v3, which has none of its own.
//
// A spec is one of (leading and trailing white space is ignored):
//
//   - "@every <duration>": a Go duration of at least 1s ("@every 90s",
//     "@every 1h30m"). Ticks fall on a fixed grid, not relative to when the
//     engine started, so every engine and every restart agrees on them:
//     the multiples of the duration since Go's zero time (as
//     time.Time.Truncate rounds), which for a duration that divides a day
//     are the multiples since midnight UTC and since the Unix epoch.
//   - A 5-field cron expression, "minute hour day-of-month month
//     day-of-week" ("0 3 * * *", "*/15 9-17 * * MON-FRI"), in robfig/cron's
//     standard syntax: *, lists, ranges, steps, month and day names, and ?
//     for either day field. There is no seconds field.
//   - A descriptor: @yearly (or @annually), @monthly, @weekly, @daily (or
//     @midnight), @hourly.
//
// A cron expression or descriptor runs in the engine's local time zone
// unless it starts with "TZ=<zone> " or "CRON_TZ=<zone> " (an IANA name
// such as "CRON_TZ=Europe/Paris 0 3 * * *"). A zone before "@every" is
// checked and has no other effect: its ticks are instants, not times of
// day.
//
// The errors say what is wrong in words: an empty spec, invalid UTF-8, a
// time zone with no schedule after it, an @every without a valid duration
// of at least 1s, a wrong number of fields, a value out of range or an
// unknown descriptor (robfig/cron's messages).
func ParseSchedule(spec string) (s Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty schedule")
	}
	if !utf8.ValidString(spec) {
		return nil, errors.New("not valid UTF-8")
	}
	rest := spec
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		zone, after, ok := strings.Cut(spec, " ")
		after = strings.TrimSpace(after)
		if !ok || after == "" {
			// robfig/cron slices out of range on this one.
			return nil, fmt.Errorf("time zone %q is not followed by a schedule", spec)
		}
		rest = after
		if isEvery(rest) {
			name := zone[strings.IndexByte(zone, '=')+1:]
			if _, err := time.LoadLocation(name); err != nil {
				return nil, fmt.Errorf("bad time zone %q: %v", name, err)
			}
		}
	}
	if isEvery(rest) {
		return parseEvery(rest)
	}
	defer func() {
		// A bug of the cron library must not crash the checker or the
		// engine.
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	cs, err := cronParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// cronParser reads 5-field cron expressions and descriptors (its own
// "@every", which would tick relative to the time of parsing, is never
// reached: ParseSchedule reads @every itself).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func isEvery(spec string) bool {
	f := strings.Fields(spec)
	return len(f) > 0 && f[0] == "@every"
}

func parseEvery(spec string) (Schedule, error) {
	f := strings.Fields(spec)
	if len(f) != 2 {
		return nil, errors.New(`@every takes one duration, such as "@every 1h"`)
	}
	d, err := time.ParseDuration(f[1])
	if err != nil {
		return nil, fmt.Errorf("invalid duration %q: want Go syntax such as 90s or 1h30m", f[1])
	}
	if d < time.Second {
		return nil, fmt.Errorf("@every needs at least 1s, found %s", f[1])
	}
	return every(d), nil
}

// every ticks on the multiples of a duration (see ParseSchedule).
type every time.Duration

func (d every) Next(t time.Time) time.Time {
	return t.Truncate(time.Duration(d)).Add(time.Duration(d))
}
