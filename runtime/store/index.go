package store

import (
	"fmt"
	"slices"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// RunInfo describes one run as its latest event leaves it.
type RunInfo struct {
	RunID   string           `json:"run_id"`
	Flow    string           `json:"flow"`
	Parent  string           `json:"parent,omitempty"` // the run whose call started it (runtime.Event.Parent)
	State   runtime.RunState `json:"state"`
	Machine string           `json:"machine"`        // the latest event's To, e.g. "Charge:running"
	Step    string           `json:"step,omitempty"` // the step its status names (runtime.RunStep)
	Events  int              `json:"events"`
	Started time.Time        `json:"started"`
	Updated time.Time        `json:"updated"`
	// Correlation is the value the run's latest correlated await waited
	// for (runtime.Wait.Correlation), kept once the wait ended: what an
	// operator looks a run up by (an order ID). "" if it never waited so.
	Correlation string `json:"correlation,omitempty"`

	steps runtime.RunStep // Step, with what the runtime's rule for it carries
}

// Filter selects runs for List. Zero fields match everything.
type Filter struct {
	Flow        string
	State       runtime.RunState
	NonTerminal bool // only runs that are not over (what a restart resumes)
	// After, if set, lists only the runs after the run with this ID in
	// List's order (the order of their first events in the log, which a
	// restart and a compaction keep), whether or not that run matches: a
	// page starts after the last run of the one before. An ID the store
	// does not know is an error (runtime.ErrUnknownRun).
	After string
	// Limit, if positive, is the most runs List returns.
	Limit int
	// Since and Until, if set, list only the runs started at or after
	// Since and before Until.
	Since, Until time.Time
	// Correlation, if set, lists only the runs whose RunInfo.Correlation
	// it is.
	Correlation string
	// Newest lists the runs newest first (the reverse of the order of
	// their first events); After then continues after that run in this
	// order, with the older ones.
	Newest bool
}

// Match reports whether r is one of the runs f selects, apart from After
// and Limit, which depend on the list's order. Every list of runs applies
// it, a store's as another executor's (Temporal's), so that a filter means
// the same everywhere.
func (f Filter) Match(r *RunInfo) bool {
	return (f.Flow == "" || f.Flow == r.Flow) &&
		(f.State == "" || f.State == r.State) &&
		(!f.NonTerminal || !r.State.Terminal()) &&
		(f.Since.IsZero() || !r.Started.Before(f.Since)) &&
		(f.Until.IsZero() || r.Started.Before(f.Until)) &&
		(f.Correlation == "" || f.Correlation == r.Correlation)
}

// runStateOf is the run state a machine state (Event.To) puts a run in.
func runStateOf(machine string) (runtime.RunState, error) {
	st, ok := runtime.RunStateOf(machine)
	if !ok {
		return "", fmt.Errorf("unknown machine state %q", machine)
	}
	return st, nil
}

// index is the per-run summary both stores keep, in first-event order.
type index struct {
	runs   map[string]int // run ID -> position in infos
	infos  []RunInfo
	aborts aborts // the runs' pending abort requests (abort.go)
}

func newIndex() index { return index{runs: map[string]int{}, aborts: newAborts()} }

// check reports whether e may follow the run's history: the next sequence
// number, the same flow, a known state, and the run not over. It returns the
// run's position (-1 for a new run) and the state e leaves it in.
func (x *index) check(e *runtime.Event) (int, runtime.RunState, error) {
	if e.RunID == "" {
		return 0, "", fmt.Errorf("%w: event without a run ID", ErrInvalidEvent)
	}
	st, err := runStateOf(e.To)
	if err != nil {
		return 0, "", fmt.Errorf("%w: run %q seq %d: %v", ErrInvalidEvent, e.RunID, e.Seq, err)
	}
	i, ok := x.runs[e.RunID]
	if !ok {
		if e.Seq != 1 {
			return 0, "", fmt.Errorf("%w: run %q starts at seq %d, want 1", ErrSequence, e.RunID, e.Seq)
		}
		return -1, st, nil
	}
	r := &x.infos[i]
	switch {
	case e.Seq != uint64(r.Events)+1:
		if e.Seq == 1 {
			// Said as what it is, a run ID taken, which Start returns to
			// its caller; still an ErrSequence, as Emit's refusals are.
			return 0, "", &duplicateRun{e.RunID, fmt.Sprintf("has %d events", r.Events)}
		}
		return 0, "", fmt.Errorf("%w: run %q: seq %d after %d", ErrSequence, e.RunID, e.Seq, r.Events)
	case r.State.Terminal():
		return 0, "", fmt.Errorf("%w: run %q is already %s", ErrSequence, e.RunID, r.State)
	case e.Flow != r.Flow:
		return 0, "", fmt.Errorf("%w: run %q of flow %q got an event of flow %q", ErrInvalidEvent, e.RunID, r.Flow, e.Flow)
	}
	return i, st, nil
}

// add records e, already checked, and returns the run's position.
func (x *index) add(i int, st runtime.RunState, e *runtime.Event) int {
	if i < 0 {
		i = len(x.infos)
		x.runs[e.RunID] = i
		x.infos = append(x.infos, RunInfo{RunID: e.RunID, Flow: e.Flow, Started: e.Time})
		if e.Parent != nil {
			x.infos[i].Parent = e.Parent.RunID
		}
	}
	r := &x.infos[i]
	r.State, r.Events, r.Updated = st, int(e.Seq), e.Time
	if st.Terminal() {
		x.endAborts(e.RunID)
	}
	if c, ok := e.RunCorrelation(); ok {
		r.Correlation = c
	}
	if e.Branch != "" {
		return i // the run's machine stays in the parallel block
	}
	r.Machine = e.To
	r.steps.Apply(e)
	r.Step = r.steps.Step
	return i
}

func (x *index) list(f Filter) ([]RunInfo, error) {
	start, step := 0, 1
	if f.Newest {
		start, step = len(x.infos)-1, -1
	}
	if f.After != "" {
		i, ok := x.runs[f.After]
		if !ok {
			return nil, fmt.Errorf("%w: %q (Filter.After)", runtime.ErrUnknownRun, f.After)
		}
		start = i + step
	}
	var out []RunInfo
	for i := start; i >= 0 && i < len(x.infos) && (f.Limit <= 0 || len(out) < f.Limit); i += step {
		if f.Match(&x.infos[i]) {
			out = append(out, x.infos[i])
		}
	}
	return out, nil
}

// runIDs lists the IDs of flow's runs in one of states (all if none), in
// first-event order.
func (x *index) runIDs(flow string, states []runtime.RunState) []string {
	var out []string
	for i := range x.infos {
		r := &x.infos[i]
		if r.Flow == flow && (len(states) == 0 || slices.Contains(states, r.State)) {
			out = append(out, r.RunID)
		}
	}
	return out
}

func (x *index) get(runID string) (RunInfo, bool) {
	i, ok := x.runs[runID]
	if !ok {
		return RunInfo{}, false
	}
	return x.infos[i], true
}
