package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// Options.Retain holds in a store smaller than its segment size: a
// finished run past the retention by more than RetainSlack is removed by
// the background compaction (the active segment sealed for it), and an
// unfinished run stays. Before, only sealed segments were compacted, and
// only once half the records could go: a store below 64 MiB never forgot
// a finished run, whatever -retain said.
func TestRetainRemovesRunsFromASmallStore(t *testing.T) {
	const retain = 30 * 24 * time.Hour
	var now atomic.Pointer[time.Time]
	now.Store(&t0)
	var removed atomic.Int64
	opts := Options{Retain: retain, CompactEvery: 5 * time.Millisecond, Now: func() time.Time { return *now.Load() },
		OnCompact: func(s CompactStats, err error) {
			if err != nil {
				t.Error(err)
			}
			removed.Add(int64(s.RunsRemoved))
		}}
	st, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	// Many unfinished runs and a few finished ones: far less than half
	// the records can go, all of them in the one active segment.
	var finished, live []string
	for i := range 40 {
		run, tos := fmt.Sprintf("live-%d", i), inFlightRun
		if i%10 == 0 {
			run, tos = fmt.Sprintf("done-%d", i), doneRun
			finished = append(finished, run)
		} else {
			live = append(live, run)
		}
		for _, e := range history(run, "Retain", tos...) {
			if err := st.Emit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Past the retention and its slack: they go.
	late := t0.Add(retain + RetainSlack(retain) + time.Hour)
	now.Store(&late)
	for deadline := time.Now().Add(time.Minute); removed.Load() < int64(len(finished)); {
		if time.Now().After(deadline) {
			t.Fatalf("background compaction removed %d of the %d finished runs past -retain and its slack", removed.Load(), len(finished))
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, run := range finished {
		if _, ok := st.Get(run); ok {
			t.Errorf("finished run %s is still in the store", run)
		}
	}
	for _, run := range live {
		h, err := st.Load(run)
		if err != nil || len(h) != len(inFlightRun) {
			t.Errorf("unfinished run %s: %d events (%v), want its %d", run, len(h), err, len(inFlightRun))
		}
	}
}
