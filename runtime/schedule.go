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
// A spec is one of (white space around it is ignored, and any run of it
// between its fields is one space: CanonicalSchedule):
//
//   - "@every <duration>": a Go duration of whole seconds, at least 1s
//     ("@every 90s", "@every 1h30m"). Ticks fall on a fixed grid, not
//     relative to when the engine started, so every engine and every
//     restart agrees on them: the multiples of the duration since the Unix
//     epoch, which is Temporal's grid for the same "@every" (whole seconds
//     too), so the Temporal target ticks at the same instants.
//   - A 5-field cron expression, "minute hour day-of-month month
//     day-of-week" ("0 3 * * *", "*/15 9-17 * * MON-FRI"), in robfig/cron's
//     standard syntax: *, lists, ranges, steps, month and day names, and ?
//     for either day field. There is no seconds field.
//   - A descriptor: @yearly (or @annually), @monthly, @weekly, @daily (or
//     @midnight), @hourly.
//
// A cron expression or descriptor is read in UTC unless it starts with
// "TZ=<zone> " or "CRON_TZ=<zone> " (an IANA name such as
// "CRON_TZ=Europe/Paris 0 3 * * *"): not in the engine's local zone, so
// that engines on machines set to different zones, which share a store,
// agree on the ticks (and so start one run per tick), and so that the
// Temporal target, whose schedules default to UTC, fires at the same
// instants. A zone before "@every" is checked and has no other effect:
// its ticks are instants, not times of day.
//
// In a zone with daylight saving time, a tick is a wall-clock time matched
// literally, as Temporal's schedules do: a time the clock skips (02:30 on
// the day the clock goes from 02:00 to 03:00) does not fire that day, and a
// time the clock shows twice (02:30 on the day it goes back from 03:00 to
// 02:00) fires twice.
//
// The errors say what is wrong in words: an empty spec, invalid UTF-8, a
// time zone with no schedule after it or that is not an IANA name, an
// @every without a valid duration of whole seconds, at least 1s, a wrong
// number of fields, a value out of range or an unknown name (the field, its
// value, and robfig/cron's message without the value again) or an unknown
// descriptor. They do not repeat the spec, which callers quote.
func ParseSchedule(spec string) (s Schedule, err error) {
	// Read in canonical form: robfig/cron, and a zone's prefix, end at a
	// space alone, and a tab after the zone read as part of its name.
	spec = CanonicalSchedule(spec)
	if spec == "" {
		return nil, errors.New("empty schedule")
	}
	if !utf8.ValidString(spec) {
		return nil, errors.New("not valid UTF-8")
	}
	zone, rest := splitZone(spec)
	if zone != "" {
		if rest == "" {
			// robfig/cron slices out of range on this one.
			return nil, errors.New("no schedule after the time zone")
		}
		name := zone[strings.IndexByte(zone, '=')+1:]
		if name == "Local" {
			// Go's name for the machine's zone: engines, and Temporal's
			// server, on machines set to other zones would disagree.
			return nil, errors.New(`bad time zone "Local": name an IANA zone, such as Europe/Paris`)
		}
		if _, err := time.LoadLocation(name); err != nil {
			return nil, fmt.Errorf("bad time zone %q: want an IANA zone name, such as Europe/Paris", name)
		}
	}
	if isEvery(rest) {
		return parseEvery(rest)
	}
	if !strings.HasPrefix(rest, "@") {
		if err := cronFields(rest); err != nil {
			return nil, err
		}
	}
	defer func() {
		// A bug of the cron library must not crash the checker or the
		// engine.
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	if rest == spec {
		// Without a zone, robfig/cron reads the expression in the zone of
		// the time given to Next, the engine clock's local zone.
		spec = "CRON_TZ=UTC " + spec
	}
	cs, err := cronParser.Parse(spec)
	if err != nil {
		if strings.HasPrefix(err.Error(), "unrecognized descriptor") {
			// robfig/cron's message ends with the spec, which the caller
			// quotes already.
			return nil, errors.New("unknown descriptor: want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every")
		}
		return nil, err
	}
	return cs, nil
}

// CanonicalSchedule returns spec as ParseSchedule reads it: its fields
// separated by one space, with no white space around them. Specs that
// differ only in white space are one schedule: the engine names a tick's
// run by it, so that two definitions of a flow spaced differently (on two
// engines sharing a store, or before and after a redefinition) agree on
// the run of each tick.
func CanonicalSchedule(spec string) string { return strings.Join(strings.Fields(spec), " ") }

// cronParser reads 5-field cron expressions and descriptors (its own
// "@every", which would tick relative to the time of parsing, is never
// reached: ParseSchedule reads @every itself).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronFieldNames name the fields of a cron expression, in order, and the
// names their values may be besides numbers.
var cronFieldNames = [...]struct{ name, names string }{
	{"minute", ""}, {"hour", ""}, {"day of month", ""}, {"month", "JAN to DEC"}, {"day of week", "SUN to SAT"},
}

// cronFields says which field of a cron expression is wrong, and why, in
// robfig/cron's words: its own errors name neither the field nor, for a
// wrong count, that there is no seconds field.
func cronFields(expr string) error {
	f := strings.Fields(expr)
	if len(f) != len(cronFieldNames) {
		err := fmt.Errorf("expected exactly 5 fields, found %d", len(f))
		if len(f) == 6 {
			err = fmt.Errorf("%w: there is no seconds field", err)
		}
		return err
	}
	for i, v := range f {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = v
		if _, err := cronParser.Parse("CRON_TZ=UTC " + strings.Join(probe, " ")); err != nil {
			return fmt.Errorf("%s %q: %s", cronFieldNames[i].name, v, cronReason(v, cronFieldNames[i].names, err))
		}
	}
	return nil
}

// cronReason is robfig/cron's error about field value v without the value
// again: its messages end with the part of the field they are about
// ("above maximum (59): 61"), or, for a part that is neither a number nor
// a name (names: the field's, "" if none), with strconv's error, which
// says it twice more; v is quoted before it.
func cronReason(v, names string, err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "failed to parse int from "); ok {
		what := "not a number"
		if names != "" {
			what += " nor a name (" + names + ")"
		}
		if part, _, _ := strings.Cut(rest, ": strconv."); part != v {
			what = fmt.Sprintf("%q is %s", part, what)
		}
		return what
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(v, msg[i+2:]) {
		return msg[:i]
	}
	return msg
}

// splitZone splits spec (trimmed) into its zone prefix ("TZ=<zone>" or
// "CRON_TZ=<zone>", "" if none) and the schedule after it.
func splitZone(spec string) (zone, rest string) {
	if !strings.HasPrefix(spec, "TZ=") && !strings.HasPrefix(spec, "CRON_TZ=") {
		return "", spec
	}
	zone, rest, _ = strings.Cut(spec, " ")
	return zone, strings.TrimSpace(rest)
}

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
	if d%time.Second != 0 {
		// Temporal's schedules tick in whole seconds: the Temporal target
		// would tick on another grid.
		return nil, fmt.Errorf("@every takes whole seconds, found %s", f[1])
	}
	return every(d / time.Second), nil
}

// every ticks on the multiples of a number of seconds since the Unix epoch
// (see ParseSchedule).
type every int64

func (n every) Next(t time.Time) time.Time {
	sec, d := t.Unix(), int64(n)
	k := sec / d
	if sec%d < 0 { // floor, for a time before the epoch
		k--
	}
	return time.Unix((k+1)*d, 0).In(t.Location())
}

// cronStar is robfig/cron's mark on a day field written "*" or "?" (with no
// step over 1): a day matches both day fields when either has it, and
// either field when neither has it, the standard cron rule.
const cronStar = 1 << 63

// ScheduleCrons returns spec, a schedule ParseSchedule accepts, as the specs
// a scheduler that matches every field of a cron expression (Temporal's)
// must be given to fire on the same ticks: "?" is written "*", and an
// expression that restricts both the day of month and the day of week
// ("0 9 1 * MON": the 1st and every Monday) becomes two, one for each
// day field, whose union are its ticks. A zone prefix is kept on each;
// "@every" and descriptors are returned as they are, in canonical form
// (CanonicalSchedule): Temporal reads "@every  1h" as the duration " 1h",
// and refuses it.
func ScheduleCrons(spec string) ([]string, error) {
	s, err := ParseSchedule(spec)
	if err != nil {
		return nil, err
	}
	spec = CanonicalSchedule(spec)
	cs, ok := s.(*cron.SpecSchedule)
	if !ok {
		return []string{spec}, nil
	}
	zone, rest := splitZone(spec)
	if zone != "" {
		zone += " "
	}
	if strings.HasPrefix(rest, "@") {
		return []string{spec}, nil
	}
	f := strings.Fields(strings.ReplaceAll(rest, "?", "*"))
	if cs.Dom&cronStar != 0 || cs.Dow&cronStar != 0 {
		return []string{zone + strings.Join(f, " ")}, nil
	}
	dom := zone + strings.Join([]string{f[0], f[1], f[2], f[3], "*"}, " ")
	dow := zone + strings.Join([]string{f[0], f[1], "*", f[3], f[4]}, " ")
	return []string{dom, dow}, nil
}
