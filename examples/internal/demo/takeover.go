package demo

import (
	"context"
	"fmt"

	"github.com/flowgen/flowgen/runtime"
)

// Histories is what taking over needs of a generated flow: its runs in a
// store and their histories.
type Histories interface {
	Runs(ctx context.Context, runs runtime.RunLister, states ...runtime.RunState) ([]string, error)
	History(ctx context.Context, runID string) ([]runtime.Event, error)
}

// unfinished are the states of a run that a previous process left to
// resume.
var unfinished = []runtime.RunState{runtime.StatePending, runtime.StateRunning, runtime.StateWaiting, runtime.StateRollingBack}

// Takeover is this process taking over the runs of a flow that a
// previous process left unfinished in the store: it knows how far each
// had got, to print its history with the point where this process took
// over.
type Takeover struct {
	l      *Live
	before map[string]int // the length of each run's history before this process
}

// TakeOver reads how far each run of flow in st that is not over had got,
// and says how many there are. It returns nil when there are none. Call
// it before the flow resumes them.
func (l *Live) TakeOver(ctx context.Context, flow Histories, st runtime.RunLister) (*Takeover, error) {
	ids, err := flow.Runs(ctx, st, unfinished...)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	t := &Takeover{l: l, before: map[string]int{}}
	for _, id := range ids {
		h, err := flow.History(ctx, id)
		if err != nil {
			return nil, err
		}
		t.before[id] = len(h)
	}
	fmt.Fprintf(l.w, "The store holds %d unfinished run(s): resuming them.\n", len(ids))
	return t, nil
}

// Print prints history, run runID's whole history once resumed, with a
// line where the previous process died.
func (t *Takeover) Print(runID string, history []runtime.Event) {
	n := min(t.before[runID], len(history))
	fmt.Fprintf(t.l.w, "run %s, resumed:\n", runID)
	for _, e := range history[:n] {
		fmt.Fprintln(t.l.w, t.l.cols.Line(e))
	}
	fmt.Fprintln(t.l.w, "  -- the previous process died here; this one resumed the run --")
	for _, e := range history[n:] {
		fmt.Fprintln(t.l.w, t.l.cols.Line(e))
	}
}
