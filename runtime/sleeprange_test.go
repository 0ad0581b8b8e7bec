package runtime_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// A sleep until a time a history cannot record (past the year 9999, or
// before the year 0: JSON's RFC 3339 has no other years) ends the step
// with the outcome error, naming the field and the time, routed by Next
// like the zero time; the waiting event records no wake-up time, so its
// JSON encodes, and a Resume from it ends the step the same way. Before,
// the run recorded the time (which no durable history can hold: the
// store refused the event, stopping the run on a sink error) and set a
// timer 292 years on, or woke at once for a year before 0.
func TestSleepUntilOutOfRange(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC),
	} {
		t.Run(at.Format(time.RFC3339), func(t *testing.T) {
			steps := func() []*runtime.Step[order] {
				nap := runtime.NewSleepUntil("Nap", func(*order) time.Time { return at }, nil,
					runtime.WithNext[order](runtime.OutcomeError, "Unset"))
				nap.Sleep.Field = "NapUntil"
				return []*runtime.Step[order]{nap, route("Notify"), route("Unset")}
			}
			sink := runtime.NewMemorySink()
			f := runtime.New[order]("Orders", runtime.WithClock(runtime.NewAutoClock(epoch)), runtime.WithSink(sink))
			if err := f.Register(steps()...); err != nil {
				t.Fatal(err)
			}
			res, err := f.Execute(context.Background(), order{}, runtime.WithRunID("r"))
			if err != nil || res.Final != runtime.StateDone || res.State.Route != "Unset" {
				t.Fatalf("%+v, %v; want done by Unset", res, err)
			}
			h := sink.History("r")
			want := `step "Nap" sleeps until ` + at.Format(time.RFC3339Nano) + ` (field NapUntil): ` + runtime.ErrTimeRange.Error()
			if len(h) < 2 || h[0].To != "Nap:waiting" || h[0].Wait == nil || !h[0].Wait.Until.IsZero() ||
				h[1].Outcome != runtime.OutcomeError || !strings.Contains(h[1].Error, want) {
				t.Fatalf("history %+v; want a wait without Until, then %q", h, want)
			}
			for _, e := range h {
				if _, err := json.Marshal(e); err != nil {
					t.Fatalf("event %d does not encode: %v", e.Seq, err)
				}
			}

			// Resumed from the history that ends waiting: the same error.
			sink2 := runtime.NewMemorySink()
			if err := sink2.Emit(context.Background(), h[0]); err != nil {
				t.Fatal(err)
			}
			f2 := runtime.New[order]("Orders", runtime.WithClock(runtime.NewAutoClock(epoch)), runtime.WithSink(sink2))
			if err := f2.Register(steps()...); err != nil {
				t.Fatal(err)
			}
			run, err := f2.Resume(context.Background(), sink2.History("r"))
			if err != nil {
				t.Fatal(err)
			}
			if res, err := run.Wait(context.Background()); err != nil || res.State.Route != "Unset" {
				t.Fatalf("resumed: %+v, %v", res, err)
			}
			if h2 := sink2.History("r"); len(h2) < 2 || h2[1].Error != h[1].Error {
				t.Fatalf("resumed: history %+v; want the error %q", h2, h[1].Error)
			}
		})
	}
}

// The years 0 and 9999 are recorded, and so are the ends of the range;
// the zero time too (it is in range: the step's error for it is another).
func TestRecordableTime(t *testing.T) {
	for _, tc := range []struct {
		t  time.Time
		ok bool
	}{
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
		{time.Time{}, true},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), false},
		// The year is the time's own, in its location, as JSON writes it.
		{time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC).In(time.FixedZone("east", 2*3600)), false},
	} {
		err := runtime.RecordableTime(tc.t)
		_, jerr := json.Marshal(tc.t)
		if (err == nil) != tc.ok || (jerr == nil) != tc.ok {
			t.Errorf("RecordableTime(%v) = %v, json: %v; want ok %v", tc.t, err, jerr, tc.ok)
		}
	}
}
