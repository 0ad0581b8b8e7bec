package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// RunLister is a history store that also lists runs: runtime/store's Store
// and Memory, and MemorySink. Flow.ResumeAll reads one; generated code's
// ResumeAll and Runs take one, so that it needs no import of a store.
type RunLister interface {
	HistoryLoader
	// RunIDs returns the IDs of flow's runs whose current run state is one
	// of states (every run of flow when states is empty), in the order of
	// their first event. flow must be given: an empty one is an error
	// (CheckListedFlow), not "every flow".
	RunIDs(ctx context.Context, flow string, states ...RunState) ([]string, error)
}

// CheckListedFlow is the rule on RunLister.RunIDs' flow argument, which
// every RunLister calls: a flow's name is never empty, so an empty one is a
// caller's mistake, and listing nothing (or, from a source whose empty
// filter means every flow, every flow's runs) would hide it.
func CheckListedFlow(flow string) error {
	if flow == "" {
		return fmt.Errorf("%w: RunIDs needs a flow name", ErrNoFlowName)
	}
	return nil
}

// ResumeAll resumes every run of f that runs holds and that is not over
// (pending, running, waiting or rolling back), each from its history through
// Resume: completed steps do not run again, the step that was running runs
// again with the same idempotency key, a rollback in progress continues,
// and the state comes from the last snapshot. Call it on start, before new
// runs, with the store f emits to (WithSink), so that the resumed runs'
// events continue their histories.
//
// A run whose history cannot be loaded or does not fit f (a renamed or
// removed step) is skipped; the other runs are resumed all the same. The
// error joins one error per skipped run, each naming it. A flow that
// does not emit where runs keeps the histories resumes none
// (checkResumeSink).
func (f *Flow[S]) ResumeAll(ctx context.Context, runs RunLister) ([]*Run[S], error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if runs == nil {
		return nil, fmt.Errorf("%w: ResumeAll of flow %q without a RunLister", ErrNotConfigured, f.id)
	}
	ids, err := runs.RunIDs(ctx, f.id, StatePending, StateRunning, StateWaiting, StateRollingBack)
	if err != nil {
		return nil, err
	}
	if err := f.checkResumeSink(ctx, ids); err != nil {
		return nil, err
	}
	out := make([]*Run[S], 0, len(ids))
	var errs []error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if r, ok := f.Run(id); ok {
			// Live already: a parent resumed before it found its child
			// (AttachChild).
			out = append(out, r)
			continue
		}
		h, err := runs.LoadHistory(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("resume run %q: %w", id, err))
			continue
		}
		r, err := f.Resume(ctx, h)
		switch {
		case errors.Is(err, ErrDuplicateRun): // a parent's AttachChild got there first
			if r, ok := f.liveRun(id); ok {
				out = append(out, r)
			}
			continue // or the run it resumed has ended already
		case errors.Is(err, ErrFinished): // it ended here since RunIDs listed it
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("resume run %q: %w", id, err))
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// checkResumeSink refuses to resume runs into a sink that does not hold
// their histories: without WithSink (no sink that loads histories), or
// with another sink than the store listed (a MemorySink beside the
// store), the resumed runs' events would go where the next ResumeAll
// does not look, and it would resume the same histories again, running
// their completed steps a second time. The sink must hold the first run
// listed; a sink of the same store (or a FanOut that loads from it) does.
func (f *Flow[S]) checkResumeSink(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if f.opts.loader == nil {
		return fmt.Errorf("%w: ResumeAll of flow %q, whose sink keeps no histories: build the flow WithSink of the store it resumes from, "+
			"so that the resumed runs' events continue their histories", ErrNotConfigured, f.id)
	}
	var err error
	if c, ok := f.opts.loader.(HistoryCounter); ok {
		_, err = c.HistoryLen(ctx, ids[0])
	} else {
		_, err = f.opts.loader.LoadHistory(ctx, ids[0])
	}
	if errors.Is(err, ErrUnknownRun) {
		return fmt.Errorf("%w: ResumeAll of flow %q: its sink does not hold run %q, which the RunLister lists: "+
			"resume from the store the flow emits to (WithSink), so that the resumed runs' events continue their histories", ErrNotConfigured, f.id, ids[0])
	}
	return nil // another error is the run's, which ResumeAll reports when it loads it
}

// Runs returns the IDs of f's runs that runs holds whose run state is one
// of states (every run of f when states is empty), in the order of their
// first event. runs is typically the store f emits to.
func (f *Flow[S]) Runs(ctx context.Context, runs RunLister, states ...RunState) ([]string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if runs == nil {
		return nil, fmt.Errorf("%w: Runs of flow %q without a RunLister", ErrNotConfigured, f.id)
	}
	return runs.RunIDs(ctx, f.id, states...)
}

// State returns the latest state of one of f's runs, live or finished (a
// finished run is read from the sink, which must load histories, as
// MemorySink and runtime/store do, ctx bounding the read), decoded from its
// last snapshot. A run of another flow is unknown here (ErrUnknownRun).
func (f *Flow[S]) State(ctx context.Context, runID string) (S, error) {
	var state S
	st, err := f.Status(ctx, runID)
	if err != nil {
		return state, err // another flow's run is unknown to Status
	}
	if len(st.Snapshot) == 0 {
		return state, nil
	}
	if err := json.Unmarshal(st.Snapshot, &state); err != nil {
		return state, fmt.Errorf("run %q: state snapshot does not decode: %w", runID, err)
	}
	return state, nil
}

// History returns the events of one of f's runs, live or finished, from the
// sink (which must load histories: ErrNotConfigured otherwise). A run of
// another flow is unknown here (ErrUnknownRun).
func (f *Flow[S]) History(ctx context.Context, runID string) ([]Event, error) {
	if f.opts.loader == nil {
		return nil, fmt.Errorf("%w: the sink of flow %q does not load histories (WithSink of a MemorySink or a store)", ErrNotConfigured, f.id)
	}
	return f.ownHistory(ctx, runID)
}

// RunIDs implements RunLister: the runs of flow seen by the sink, by the
// state their last event entered.
func (m *MemorySink) RunIDs(_ context.Context, flow string, states ...RunState) ([]string, error) {
	if err := CheckListedFlow(flow); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for _, id := range m.order {
		h := *m.runs[id]
		if h[0].Flow != flow {
			continue
		}
		if len(states) > 0 {
			to := h[len(h)-1].To
			kind, _, ok := kindOf(to)
			if !ok || !slices.Contains(states, kind.runState(to)) {
				continue
			}
		}
		ids = append(ids, id)
	}
	return ids, nil
}
