package store

import (
	"context"
	"errors"
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
	if err := st.Emit(ctx, e); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("Emit of a wait until the year 10001: %v, want ErrInvalidEvent", err)
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

// mustEncodeEvent is encodeEvent of an event the test knows encodes.
func mustEncodeEvent(tb testing.TB, e *runtime.Event) []byte {
	tb.Helper()
	b, err := encodeEvent(nil, e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
