package store

import (
	"context"
	"errors"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A listed run names the step its status names (runtime.RunStep), after
// every event: running, rolling back, and once a failed or aborted run is
// over, the step that caused it, not the last one rolled back.
func TestRunInfoStepIsStatusStep(t *testing.T) {
	noop := func(context.Context, *parState) (runtime.Outcome, error) { return "", nil }
	undo := runtime.WithRollback(func(context.Context, *parState) error { return nil })
	badUndo := runtime.WithRollback(func(context.Context, *parState) error { return runtime.Permanent(errors.New("undo refused")) })
	fail := func(context.Context, *parState) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("card declined"))
	}
	started := make(chan struct{}, 1)
	block := func(ctx context.Context, _ *parState) (runtime.Outcome, error) {
		started <- struct{}{}
		<-ctx.Done()
		return "", ctx.Err()
	}
	cases := []struct {
		name      string
		steps     func() []*runtime.Step[parState]
		abort     bool
		wantFinal string
	}{
		{"done", func() []*runtime.Step[parState] {
			return []*runtime.Step[parState]{runtime.NewStep("A", noop, undo), runtime.NewStep("B", noop, undo)}
		}, false, "B"},
		{"compensated", func() []*runtime.Step[parState] {
			return []*runtime.Step[parState]{runtime.NewStep("A", noop, undo), runtime.NewStep("B", noop, undo), runtime.NewStep("C", fail)}
		}, false, "C"},
		{"compensation failed", func() []*runtime.Step[parState] {
			return []*runtime.Step[parState]{runtime.NewStep("A", noop, badUndo), runtime.NewStep("B", noop, undo), runtime.NewStep("C", fail)}
		}, false, "C"},
		{"branch failed", func() []*runtime.Step[parState] {
			return []*runtime.Step[parState]{runtime.NewStep("A", noop, undo), runtime.NewParallel("P", []*runtime.Step[parState]{
				runtime.NewStep("X", noop, undo), runtime.NewStep("Y", fail)})}
		}, false, "P"},
		{"aborted", func() []*runtime.Step[parState] {
			return []*runtime.Step[parState]{runtime.NewStep("A", noop, undo), runtime.NewStep("B", block, undo)}
		}, true, "B"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sink := runtime.NewMemorySink()
			f := runtime.New[parState]("f", runtime.WithSink(sink))
			if err := f.Register(c.steps()...); err != nil {
				t.Fatal(err)
			}
			run, err := f.Start(context.Background(), parState{}, runtime.WithRunID("r"))
			if err != nil {
				t.Fatal(err)
			}
			if c.abort {
				<-started
				if err := run.Abort(); err != nil {
					t.Fatal(err)
				}
			}
			<-run.Done()
			history := sink.History("r")
			m := NewMemory()
			for i, e := range history {
				if err := m.Emit(context.Background(), e); err != nil {
					t.Fatal(err)
				}
				st, err := runtime.Replay(history[:i+1])
				if err != nil {
					t.Fatal(err)
				}
				info, _ := m.Get("r")
				if info.Step != st.Step {
					t.Fatalf("after event %d (%s -> %s): listed step %q, status step %q", e.Seq, e.From, e.To, info.Step, st.Step)
				}
			}
			if info, _ := m.Get("r"); info.Step != c.wantFinal {
				t.Fatalf("final step %q (%s), want %q", info.Step, info.State, c.wantFinal)
			}
		})
	}
}
