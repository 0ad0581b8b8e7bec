package runtime

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zones for the TZ= cases, whatever the machine has
)

func TestParseScheduleTicks(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	from := at("2026-03-04T12:03:10Z") // a Wednesday
	for _, tt := range []struct {
		spec, want string
	}{
		// @every: on the grid of multiples of the duration, not from now.
		{"@every 5m", "2026-03-04T12:05:00Z"},
		{"  @every 1h  ", "2026-03-04T13:00:00Z"},
		{"@every\t90s", "2026-03-04T12:04:30Z"},
		{"@every 1h30m", "2026-03-04T13:30:00Z"},
		{"TZ=Europe/Paris @every 1h", "2026-03-04T13:00:00Z"}, // a zone does not move instants
		// 5-field cron, in the zone of the time given or of TZ=.
		{"0 3 * * *", "2026-03-05T03:00:00Z"},
		{"*/15 9-17 * * MON-FRI", "2026-03-04T12:15:00Z"},
		{"0 0 1 JAN ?", "2027-01-01T00:00:00Z"},
		{"CRON_TZ=Europe/Paris 0 3 * * *", "2026-03-05T02:00:00Z"},
		{"TZ=UTC 30 12 * * *", "2026-03-04T12:30:00Z"},
		// White space is white space after a zone too: one schedule with
		// its spaced form (CanonicalSchedule), not "bad time zone".
		{"CRON_TZ=Europe/Paris\t0 3 * * *", "2026-03-05T02:00:00Z"},
		{"TZ=Europe/Paris\n@every 1h", "2026-03-04T13:00:00Z"},
		// Descriptors.
		{"@hourly", "2026-03-04T13:00:00Z"},
		{"@daily", "2026-03-05T00:00:00Z"},
		{"@midnight", "2026-03-05T00:00:00Z"},
		{"@weekly", "2026-03-08T00:00:00Z"},
		{"@monthly", "2026-04-01T00:00:00Z"},
		{"@yearly", "2027-01-01T00:00:00Z"},
		{"@annually", "2027-01-01T00:00:00Z"},
	} {
		s, err := ParseSchedule(tt.spec)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.spec, err)
			continue
		}
		if got := s.Next(from); !got.Equal(at(tt.want)) {
			t.Errorf("ParseSchedule(%q).Next(%v) = %v, want %s", tt.spec, from, got.UTC(), tt.want)
		}
	}
}

// Without a zone a cron expression is read in UTC, whatever the zone of the
// time it is asked about (the engine clock's is the machine's local zone),
// so that engines in different zones and the Temporal target agree.
func TestParseScheduleDefaultsToUTC(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 4, 12, 3, 10, 0, paris)
	for spec, want := range map[string]time.Time{
		"0 3 * * *":                       time.Date(2026, 3, 5, 3, 0, 0, 0, time.UTC),
		"@daily":                          time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC),
		"CRON_TZ=Europe/Paris 0 3 * * *":  time.Date(2026, 3, 5, 2, 0, 0, 0, time.UTC),
		"CRON_TZ=America/New_York @daily": time.Date(2026, 3, 5, 5, 0, 0, 0, time.UTC),
	} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Next(from); !got.Equal(want) {
			t.Errorf("ParseSchedule(%q).Next(%v) = %v, want %v", spec, from, got.UTC(), want)
		}
	}
}

// "@every d" ticks on the multiples of d since the Unix epoch, as
// Temporal's "@every" does, also for a d that does not divide a day.
func TestParseScheduleEveryGridFromTheEpoch(t *testing.T) {
	for _, tt := range []struct {
		spec string
		d    int64
	}{{"@every 7h", 7 * 3600}, {"@every 1m", 60}, {"@every 13s", 13}, {"@every 1h30m", 5400}} {
		s, err := ParseSchedule(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, from := range []time.Time{
			time.Date(2026, 3, 4, 12, 3, 10, 5, time.UTC),
			time.Unix(3*tt.d, 0),  // on a tick: the next one
			time.Unix(-tt.d-1, 0), // before the epoch
		} {
			got := s.Next(from)
			if got.Unix()%tt.d != 0 || !got.After(from) || got.Sub(from) > time.Duration(tt.d)*time.Second {
				t.Errorf("ParseSchedule(%q).Next(%v) = %v, want the next multiple of %ds since the epoch", tt.spec, from, got, tt.d)
			}
		}
	}
}

// A daily tick in a zone with daylight saving time matches the wall clock
// literally, as Temporal's schedules do: none on the day the clock skips
// 02:30, two on the day it shows 02:30 twice.
func TestParseScheduleAcrossDST(t *testing.T) {
	s, err := ParseSchedule("CRON_TZ=Europe/Paris 30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	ticks := func(from, to time.Time) (out []string) {
		for tick := s.Next(from); tick.Before(to); tick = s.Next(tick) {
			out = append(out, tick.UTC().Format("01-02T15:04Z"))
		}
		return out
	}
	// 2026-03-29: 02:00 CET becomes 03:00 CEST.
	if got := strings.Join(ticks(time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)), " "); got != "03-28T01:30Z 03-30T00:30Z" {
		t.Errorf("spring forward: ticks %s", got)
	}
	// 2026-10-25: 03:00 CEST becomes 02:00 CET.
	if got := strings.Join(ticks(time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC)), " "); got != "10-24T00:30Z 10-25T00:30Z 10-25T01:30Z 10-26T01:30Z" {
		t.Errorf("fall back: ticks %s", got)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, tt := range []struct {
		spec, want string
	}{
		{"", "empty schedule"},
		{" \t ", "empty schedule"},
		{"\xff 3 * * *", "not valid UTF-8"},
		{"TZ=UTC", `no schedule after the time zone`},
		{"CRON_TZ=UTC   ", `no schedule after the time zone`},
		{"TZ=Nowhere/Land 0 3 * * *", `bad time zone "Nowhere/Land": want an IANA zone name`},
		{"TZ=Local 0 3 * * *", `bad time zone "Local"`},
		{"TZ=Nowhere/Land @every 1h", `bad time zone "Nowhere/Land"`},
		{"@every", `@every takes one duration, such as "@every 1h"`},
		{"@every 5m 10m", `@every takes one duration`},
		{"@every soon", `invalid duration "soon": want Go syntax such as 90s or 1h30m`},
		{"@every 5", `invalid duration "5"`},
		{"@every 500ms", "@every needs at least 1s, found 500ms"},
		{"@every 1500ms", "@every takes whole seconds, found 1500ms"},
		{"@every 0s", "@every needs at least 1s, found 0s"},
		{"@every -1h", "@every needs at least 1s, found -1h"},
		{"0 3 * *", "expected exactly 5 fields, found 4"},
		{"0 0 3 * * *", "expected exactly 5 fields, found 6: there is no seconds field"},
		{"61 * * * *", `minute "61": end of range (61) above maximum (59)`},
		{"0 3 32 * *", `day of month "32": end of range (32) above maximum (31)`},
		{"0 3 * 1-13 *", `month "1-13": end of range (13) above maximum (12)`},
		{"0 3 * * FUNDAY", `day of week "FUNDAY": not a number nor a name (SUN to SAT)`},
		{"@fortnightly", "unknown descriptor: want @yearly"},
		{"every tuesday", "expected exactly 5 fields, found 2"},
	} {
		s, err := ParseSchedule(tt.spec)
		if err == nil {
			t.Errorf("ParseSchedule(%q) = %v, want an error", tt.spec, s)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSchedule(%q) error %q, want it to say %q", tt.spec, err, tt.want)
		}
	}
}

// A schedule's error says the value it is about once: callers quote the
// spec before it ("invalid schedule %q: ..."), and the field's error
// quotes the field's value; robfig/cron's messages ended with it again
// ("above maximum (59): 61"), or with strconv's error, which said it twice
// more.
func TestScheduleErrorsSayTheValueOnce(t *testing.T) {
	for spec, want := range map[string]string{
		"61 * * * *":      `minute "61": end of range (61) above maximum (59)`,
		"1,61 * * * *":    `minute "1,61": end of range (61) above maximum (59)`,
		"0 3 0 * *":       `day of month "0": beginning of range (0) below minimum (1)`,
		"5-3 * * * *":     `minute "5-3": beginning of range (5) beyond end of range (3)`,
		"*/0 * * * *":     `minute "*/0": step of range should be a positive number`,
		"1-2-3 * * * *":   `minute "1-2-3": too many hyphens`,
		"0 x * * *":       `hour "x": not a number`,
		"0 3 * * FUNDAY":  `day of week "FUNDAY": not a number nor a name (SUN to SAT)`,
		"0 3 * JAN,FOO *": `month "JAN,FOO": "FOO" is not a number nor a name (JAN to DEC)`,
		"@fortnightly":    "unknown descriptor: want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every",
		"TZ=UTC":          "no schedule after the time zone",
	} {
		if _, err := ParseSchedule(spec); err == nil || err.Error() != want {
			t.Errorf("ParseSchedule(%q): %v, want %q", spec, err, want)
		}
	}
}

// ScheduleCrons gives a scheduler that matches every field (Temporal's) the
// ticks of the spec: "?" as "*", and a spec restricting both day fields,
// which fires on either, as two.
func TestScheduleCrons(t *testing.T) {
	for spec, want := range map[string]string{
		"0 3 * * *":                         "0 3 * * *",
		"@every 90m":                        "@every 90m",
		" @every  90m":                      "@every 90m",
		"TZ=Europe/Paris   @daily ":         "TZ=Europe/Paris @daily",
		"CRON_TZ=Europe/Paris @daily":       "CRON_TZ=Europe/Paris @daily",
		"0 0 1 JAN ?":                       "0 0 1 JAN *",
		"  0 9 1 * MON ":                    "0 9 1 * * | 0 9 * * MON",
		"TZ=Asia/Tokyo 30 8 1,15 * MON-FRI": "TZ=Asia/Tokyo 30 8 1,15 * * | TZ=Asia/Tokyo 30 8 * * MON-FRI",
		"0 9 */2 * MON":                     "0 9 */2 * * | 0 9 * * MON",
		"0 9 */1 * MON":                     "0 9 */1 * MON", // */1 is *: both fields must match
		"0 9 ? * MON":                       "0 9 * * MON",
	} {
		crons, err := ScheduleCrons(spec)
		if err != nil {
			t.Fatalf("ScheduleCrons(%q): %v", spec, err)
		}
		if got := strings.Join(crons, " | "); got != want {
			t.Errorf("ScheduleCrons(%q) = %s, want %s", spec, got, want)
		}
		// The union of the crons' ticks are the spec's, over a year.
		s, _ := ParseSchedule(spec)
		var parts []Schedule
		for _, c := range crons {
			p, err := ParseSchedule(c)
			if err != nil {
				t.Fatalf("ScheduleCrons(%q): %q: %v", spec, c, err)
			}
			parts = append(parts, p)
		}
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for tick, n := s.Next(from), 0; n < 400; tick, n = s.Next(tick), n+1 {
			var next time.Time
			for _, p := range parts {
				if pt := p.Next(from); next.IsZero() || pt.Before(next) {
					next = pt
				}
			}
			if !next.Equal(tick) {
				t.Fatalf("ScheduleCrons(%q): after %v the spec ticks at %v, its crons at %v", spec, from, tick, next)
			}
			from = tick
		}
	}
	if _, err := ScheduleCrons("61 * * * *"); err == nil {
		t.Error("ScheduleCrons of an invalid spec: no error")
	}
}
