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

func TestParseScheduleErrors(t *testing.T) {
	for _, tt := range []struct {
		spec, want string
	}{
		{"", "empty schedule"},
		{" \t ", "empty schedule"},
		{"\xff 3 * * *", "not valid UTF-8"},
		{"TZ=UTC", `time zone "TZ=UTC" is not followed by a schedule`},
		{"CRON_TZ=UTC   ", `time zone "CRON_TZ=UTC" is not followed by a schedule`},
		{"TZ=Nowhere/Land 0 3 * * *", "Nowhere/Land"},
		{"TZ=Nowhere/Land @every 1h", `bad time zone "Nowhere/Land"`},
		{"@every", `@every takes one duration, such as "@every 1h"`},
		{"@every 5m 10m", `@every takes one duration`},
		{"@every soon", `invalid duration "soon": want Go syntax such as 90s or 1h30m`},
		{"@every 5", `invalid duration "5"`},
		{"@every 500ms", "@every needs at least 1s, found 500ms"},
		{"@every 0s", "@every needs at least 1s, found 0s"},
		{"@every -1h", "@every needs at least 1s, found -1h"},
		{"0 3 * *", "expected exactly 5 fields, found 4: [0 3 * *]"},
		{"0 0 3 * * *", "expected exactly 5 fields, found 6"}, // no seconds field
		{"61 * * * *", "end of range (61) above maximum (59): 61"},
		{"0 3 * * FUNDAY", "FUNDAY"},
		{"@fortnightly", "unrecognized descriptor: @fortnightly"},
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
