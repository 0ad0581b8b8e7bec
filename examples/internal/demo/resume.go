package demo

import (
	"context"
	"fmt"
	"io"

	"github.com/flowgen/flowgen/runtime"
)

// Histories is what Resume needs of a generated flow: its runs in a
// store and their histories.
type Histories interface {
	Runs(ctx context.Context, runs runtime.RunLister, states ...runtime.RunState) ([]string, error)
	History(ctx context.Context, runID string) ([]runtime.Event, error)
}

// unfinishedStates are the states of a run that a previous process left to
// resume.
var unfinishedStates = []runtime.RunState{runtime.StatePending, runtime.StateRunning, runtime.StateWaiting, runtime.StateRollingBack}

// Outcome is what an example tells of a run once it is over.
type Outcome interface {
	History() []runtime.Event // the run's history, read back from the store
	Report(w io.Writer)       // how the run ended and what it did
}

// Resume takes over the runs of flow that a previous process left
// unfinished in st: resumeAll (the flow's ResumeAll) resumes them, finish
// takes each to its end, and Resume prints each one's history, with the
// point where this process took over, then its report. The runs that
// resumeAll names in its error are left as they are; the others go on.
func Resume[R interface{ ID() string }, O Outcome](ctx context.Context, l *Live, flow Histories, st runtime.RunLister,
	resumeAll func(context.Context, runtime.RunLister) ([]R, error), finish func(R) (O, error)) error {
	before, err := l.takeOver(ctx, flow, st)
	if err != nil || len(before) == 0 {
		return err
	}
	runs, err := resumeAll(ctx, st)
	if err != nil {
		fmt.Fprintln(l.w, "  some runs could not be resumed:", err)
	}
	for _, r := range runs {
		o, err := finish(r)
		if err != nil {
			return err
		}
		l.resumed(r.ID(), o.History(), before[r.ID()])
		o.Report(l.w)
	}
	return nil
}

// takeOver reads how far each run of flow in st that is not over had got
// (the length of its history, by run ID), and says how many there are.
func (l *Live) takeOver(ctx context.Context, flow Histories, st runtime.RunLister) (map[string]int, error) {
	ids, err := flow.Runs(ctx, st, unfinishedStates...)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	before := map[string]int{}
	for _, id := range ids {
		h, err := flow.History(ctx, id)
		if err != nil {
			return nil, err
		}
		before[id] = len(h)
	}
	fmt.Fprintf(l.w, "The store holds %d unfinished run(s): resuming them.\n", len(ids))
	return before, nil
}

// resumed prints history, run runID's whole history once resumed, with a
// line after its first before events, where the previous process died.
func (l *Live) resumed(runID string, history []runtime.Event, before int) {
	n := min(before, len(history))
	fmt.Fprintf(l.w, "run %s, resumed:\n", runID)
	for _, e := range history[:n] {
		fmt.Fprintln(l.w, l.cols.Line(e))
	}
	fmt.Fprintln(l.w, "  -- the previous process died here; this one resumed the run --")
	for _, e := range history[n:] {
		fmt.Fprintln(l.w, l.cols.Line(e))
	}
}
