package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// gateSink stores each event in a MemorySink, then holds Emit until the test
// lets it return: the moment when the history has an event the run has not
// moved past yet.
type gateSink struct {
	mem     *runtime.MemorySink
	stored  chan runtime.Event
	release chan struct{}
}

func (g *gateSink) Emit(ctx context.Context, e runtime.Event) error {
	if err := g.mem.Emit(ctx, e); err != nil {
		return err
	}
	g.stored <- e
	<-g.release
	return nil
}

func (g *gateSink) LoadHistory(ctx context.Context, runID string) ([]runtime.Event, error) {
	return g.mem.LoadHistory(ctx, runID)
}

// Status equals the Replay of the run's history at every instant, in
// particular while the sink holds an event it has already stored.
func TestStatusEqualsReplayOfHistory(t *testing.T) {
	gate := &gateSink{mem: runtime.NewMemorySink(), stored: make(chan runtime.Event), release: make(chan struct{})}
	rec := newRecorder()
	f := runtime.New[state]("S", runtime.WithSink(gate))
	mustRegister(t, f,
		okStep(rec, "A", runtime.WithRollback(func(context.Context, *state) error { return nil })),
		runtime.NewStep("B", func(context.Context, *state) (runtime.Outcome, error) { return "", runtime.Permanent(errBoom) }))
	started := make(chan *runtime.Run[state], 1)
	go func() {
		r, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
		if err != nil {
			t.Error(err)
		}
		started <- r
	}()
	var run *runtime.Run[state]
	check := func(when string) {
		if run == nil {
			return
		}
		st := run.Status()
		want, err := runtime.Replay(gate.mem.History("r"))
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("%s: Status differs from the Replay of its history (-replay +status):\n%s", when, diff)
		}
	}
	n := 0
	for {
		var done <-chan struct{}
		if run != nil {
			done = run.Done()
		}
		select {
		case e := <-gate.stored:
			n++
			check("event " + e.From + " -> " + e.To + " held")
			gate.release <- struct{}{}
			check("event " + e.From + " -> " + e.To + " released")
			if e.Seq == 1 {
				run = <-started
				check("after Start")
			}
		case <-done:
			check("over")
			if res, err := run.Wait(context.Background()); res.Final != runtime.StateCompensated || !errors.Is(err, errBoom) {
				t.Fatalf("Wait = %+v, %v", res, err)
			}
			if n != 6 {
				t.Errorf("%d events, want 6", n)
			}
			return
		}
	}
}
