package runtime_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// TestResumeAllIntoAnotherSinkRefused: ResumeAll resumes nothing, with an
// error wrapping ErrNotConfigured, when the flow does not emit where the
// RunLister keeps the histories: no WithSink, or another sink than the
// store listed. Before, it resumed the runs into that sink and ran their
// steps, and the store's histories stayed where they were, so the next
// process's ResumeAll resumed them again and ran the same steps a second
// time. A FanOut that loads from the store is the store.
func TestResumeAllIntoAnotherSinkRefused(t *testing.T) {
	ctx := context.Background()
	mem := runtime.NewMemorySink()
	rec := newRecorder()
	// A run dies in B (B's completion never reached the store).
	if _, err := threeSteps(t, "resumesink", rec, stopAt(mem, runtime.RunningState("C"))).Execute(ctx, state{}, runtime.WithRunID("r1")); !errors.Is(err, runtime.ErrSink) {
		t.Fatalf("the run did not stop: %v", err)
	}
	for _, tc := range []struct {
		name string
		sink runtime.Sink
		want string
	}{
		{"no sink", nil, `ResumeAll of flow "resumesink", whose sink keeps no histories`},
		{"another sink", runtime.NewMemorySink(), `its sink does not hold run "r1", which the RunLister lists`},
	} {
		after := newRecorder()
		runs, err := threeSteps(t, "resumesink", after, tc.sink).ResumeAll(ctx, mem)
		if len(runs) != 0 || !errors.Is(err, runtime.ErrNotConfigured) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ResumeAll = %d runs, %v; want none and ErrNotConfigured saying %q", tc.name, len(runs), err, tc.want)
		}
		for _, r := range runs {
			_, _ = r.Wait(ctx)
		}
		if ops := after.all(); len(ops) != 0 {
			t.Errorf("%s: steps ran: %v", tc.name, ops)
		}
	}
	// The store the flow emits to, seen through a FanOut, resumes the run.
	after := newRecorder()
	runs, err := threeSteps(t, "resumesink", after, runtime.FanOut(mem, runtime.NewJSONSink(io.Discard))).ResumeAll(ctx, mem)
	if err != nil || len(runs) != 1 {
		t.Fatalf("ResumeAll through a FanOut of the store = %d runs, %v", len(runs), err)
	}
	if res, err := runs[0].Wait(ctx); err != nil || res.Final != runtime.StateDone {
		t.Errorf("resumed run: %s %v", res.Final, err)
	}
}
