package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// TestEmitRefusesAWaitItCannotRecord: a wait's times are recorded as JSON,
// which holds years 0 to 9999 only, and a sleep's Until comes from the
// run's state (runtime.NewSleepUntil). Emit recorded such an event
// without its wait, and said nil: the history read back entered a wait
// without saying what for, which Resume refuses, so that the run was lost
// at the next restart. It is refused now (ErrInvalidEvent), writing
// nothing, and the run's next Emit is taken.
func TestEmitRefusesAWaitItCannotRecord(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ctx := context.Background()
	e := fiveStepEvents("r")[0]
	e.Wait = &runtime.Wait{Until: time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := st.Emit(ctx, e); !errors.Is(err, ErrInvalidEvent) || !errors.Is(err, runtime.ErrTimeRange) {
		t.Fatalf("Emit of a wait until the year 10001: %v, want ErrInvalidEvent by runtime.ErrTimeRange", err)
	}
	if _, err := st.Load("r"); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Fatalf("Load after the refused Emit: %v, want ErrUnknownRun", err)
	}
	until := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Wait.Until = until
	if err := st.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	h, err := st.Load("r")
	if err != nil || len(h) != 1 || h[0].Wait == nil || !h[0].Wait.Until.Equal(until) {
		t.Fatalf("Load: %+v, %v; want the event with its wait", h, err)
	}
}

// TestSleepPastTheYear9999OnTheStore: a run whose sleep reads a time the
// store cannot record fails that step like any other step error, and
// compensates, on the store as on any sink: the runtime checks the time
// with the rule the store refuses by (runtime.RecordableTime). Before,
// the store refused the waiting event and the run stopped on a sink
// error, neither failed nor compensated. A run resumed from its waiting
// event, as after a crash, ends the same way.
func TestSleepPastTheYear9999OnTheStore(t *testing.T) {
	type napState struct {
		Undone bool `json:"undone"`
	}
	far := time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC)
	flow := func(st *Store) *runtime.Flow[napState] {
		f := runtime.New[napState]("Nap", runtime.WithSink(st), runtime.WithClock(runtime.NewAutoClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))))
		if err := f.Register(
			runtime.NewStep("Book", func(context.Context, *napState) (runtime.Outcome, error) { return "", nil },
				runtime.WithRollback(func(_ context.Context, s *napState) error { s.Undone = true; return nil })),
			runtime.NewSleepUntil("Nap", func(*napState) time.Time { return far }, nil),
		); err != nil {
			t.Fatal(err)
		}
		return f
	}
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	res, err := flow(st).Execute(ctx, napState{}, runtime.WithRunID("r"))
	if res.Final != runtime.StateCompensated || !res.State.Undone || !errors.Is(err, runtime.ErrTimeRange) {
		t.Fatalf("Execute: %s %+v, %v; want compensated by runtime.ErrTimeRange", res.Final, res.State, err)
	}
	h, err := st.Load("r")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(h, func(e runtime.Event) bool { return e.To == "Nap:waiting" })
	if i < 0 || h[i].Wait == nil || !h[i].Wait.Until.IsZero() || h[i+1].Error == "" || !strings.Contains(res.Err.Error(), h[i+1].Error) {
		t.Fatalf("history %+v; want Nap's wait without Until, then its error", h)
	}

	st2 := openStore(t, t.TempDir())
	defer st2.Close()
	for _, e := range h[:i+1] {
		if err := st2.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	run, err := flow(st2).Resume(ctx, h[:i+1])
	if err != nil {
		t.Fatal(err)
	}
	if res2, err := run.Wait(ctx); res2.Final != runtime.StateCompensated || err == nil || err.Error() != res.Err.Error() {
		t.Fatalf("resumed: %s, %v; want compensated by %v", res2.Final, err, res.Err)
	}
}

// mustEncodeEvent is encodeEvent of an event the test knows encodes.
func mustEncodeEvent(tb testing.TB, e *runtime.Event) []byte {
	tb.Helper()
	b, err := encodeEvent(nil, e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestSleepPastTheYear9999FromTheStateOnTheStore: a sleep whose time out
// of range comes from the state (a generated flow's field) says so on the
// store too, where the waiting run's state is dropped as it parks: the
// error is made before, not from the zero state ("not set").
func TestSleepPastTheYear9999FromTheStateOnTheStore(t *testing.T) {
	type napState struct {
		At time.Time `json:"at"`
	}
	f := runtime.New[napState]("Nap", runtime.WithSink(openStore(t, t.TempDir())), runtime.WithClock(runtime.NewAutoClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))))
	if err := f.Register(
		runtime.NewStep("Set", func(_ context.Context, s *napState) (runtime.Outcome, error) {
			s.At = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			return "", nil
		}),
		// Past 9999 only here: the state, a snapshot, could not hold it.
		runtime.NewSleepUntil("Nap", func(s *napState) time.Time { return s.At.AddDate(8000, 0, 0) }, nil),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Execute(context.Background(), napState{}, runtime.WithRunID("r")); !errors.Is(err, runtime.ErrTimeRange) {
		t.Fatalf("Execute: %v; want the sleep's error by runtime.ErrTimeRange", err)
	}
}
