package runtime

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseSchedule: ParseSchedule reads a trigger's spec, which a flow
// service takes from whoever defines a flow (PUT /flows): on any input it
// returns a Schedule or an error in words (never a panic, nor the "cannot
// parse" of a panic it recovered from the cron library); a Schedule's
// Next is strictly after the time given, or zero; and ScheduleCrons gives
// specs that parse, whose ticks together are the spec's.
//
//	go test ./runtime -run '^$' -fuzz FuzzParseSchedule -fuzztime 5m
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{
		"@every 90s", "@every 1h30m", " @every  2s ", "TZ=UTC @every 5s",
		"0 3 * * *", "*/15 9-17 * * MON-FRI", "0 9 1 * MON", "0 0 1 JAN ?",
		"CRON_TZ=Europe/Paris 30 2 * * *", "TZ=Asia/Tokyo 30 8 1,15 * MON-FRI",
		"@daily", "@yearly", "@weekly", "@hourly", "@every", "TZ=", "CRON_TZ=UTC",
		"0 0 30 FEB *", "5-1 * * * *", "*/0 * * * *", "0 0 0 0 0 0",
	} {
		f.Add(s)
	}
	from := []time.Time{
		time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec)
		if err != nil {
			if s != nil {
				t.Fatalf("ParseSchedule(%q): a Schedule and an error %v", spec, err)
			}
			if strings.HasPrefix(err.Error(), "cannot parse") {
				t.Fatalf("ParseSchedule(%q): the cron library panicked: %v", spec, err)
			}
			return
		}
		crons, err := ScheduleCrons(spec)
		if err != nil {
			t.Fatalf("ScheduleCrons(%q) of a spec that parses: %v", spec, err)
		}
		var parts []Schedule
		for _, c := range crons {
			p, err := ParseSchedule(c)
			if err != nil {
				t.Fatalf("ScheduleCrons(%q): %q does not parse: %v", spec, c, err)
			}
			parts = append(parts, p)
		}
		for _, at := range from {
			for n := 0; n < 8; n++ {
				tick := s.Next(at)
				if !tick.IsZero() && !tick.After(at) {
					t.Fatalf("ParseSchedule(%q).Next(%v) = %v, not after it", spec, at, tick)
				}
				var next time.Time
				for _, p := range parts {
					if pt := p.Next(at); !pt.IsZero() && (next.IsZero() || pt.Before(next)) {
						next = pt
					}
				}
				if !next.Equal(tick) {
					t.Fatalf("ScheduleCrons(%q) = %q: after %v the spec ticks at %v, its crons at %v", spec, crons, at, tick, next)
				}
				if tick.IsZero() {
					break
				}
				at = tick
			}
		}
	})
}

// FuzzParseKey: an idempotency key, or a call's child run ID, reaches a
// provider or an engine as a string (a request's header, a run ID in a
// URL): what ParseKey and ParseChildRunID take is the one spelling that
// Key.String and ChildRunID write for what they read, so that no two
// strings name the same action or child run.
//
//	go test ./runtime -run '^$' -fuzz FuzzParseKey -fuzztime 5m
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		"r/S", "r1/Charge#3", "tenant/r1/Charge#2/rollback", "e-12/A/rollback",
		"r/S#1", "r/#2", "r/S#x", "o-1@Bill", "o-1@Bill:2", "o-1@Bill:rollback:3",
		"o-1@Bill:2:rollback", "a@b@c:rollback", "o@B:1", "o@B:rollback:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k, ok := ParseKey(s); ok {
			if k.Visit < 1 || k.RunID == "" || k.Step == "" {
				t.Fatalf("ParseKey(%q) = %+v", s, k)
			}
			if got := k.String(); got != s {
				t.Fatalf("ParseKey(%q) = %+v, which is written %q", s, k, got)
			}
		}
		if k, attempt, ok := ParseChildRunID(s); ok {
			if got := ChildRunID(k, attempt); got != s {
				t.Fatalf("ParseChildRunID(%q) = %+v, %d, which is written %q", s, k, attempt, got)
			}
		}
	})
}

// FuzzParseMachineState: ParseMachineState reads the From and To of
// every event a store or a client hands back (history, Replay, the web
// view): a state it accepts is written back the same by the one rule that
// writes it (RunningState and its kin, or the fixed state itself), and a
// phase state names a step.
//
//	go test ./runtime -run '^$' -fuzz FuzzParseMachineState -fuzztime 1m
func FuzzParseMachineState(f *testing.F) {
	for _, s := range []string{
		"pending", "failing", "aborting", "done", "compensation_failed",
		"A:running", "A:waiting", "A:rollback", "P:parallel", ":running",
		"a:b:running", "A:done", "A:", "", "running",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		step, phase, ok := ParseMachineState(s)
		if !ok {
			if step != "" || phase != "" {
				t.Fatalf("ParseMachineState(%q) refused it, yet gave %q, %q", s, step, phase)
			}
			return
		}
		var back string
		switch phase {
		case PhaseRunning:
			back = RunningState(step)
		case PhaseWaiting:
			back = WaitingState(step)
		case PhaseRollback:
			back = RollbackState(step)
		case PhaseParallel:
			back = ParallelState(step)
		default:
			if step != "" {
				t.Fatalf("ParseMachineState(%q): fixed state %q with step %q", s, phase, step)
			}
			back = phase
		}
		if back != s {
			t.Fatalf("ParseMachineState(%q) = %q, %q, written back %q", s, step, phase, back)
		}
		if (phase == PhaseRunning || phase == PhaseWaiting || phase == PhaseRollback || phase == PhaseParallel) && step == "" {
			t.Fatalf("ParseMachineState(%q): phase %q of no step", s, phase)
		}
	})
}
