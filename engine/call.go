package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Calls. A call step runs a flow registered on the engine, by name, as a
// child run of the engine's own (runtime.WithChildren is among
// RuntimeOptions, for JSON and generated flows alike): the child is
// started, resumed or found live like any run the engine drives (its lock
// held, tracked, suspended by Close and resumed by Start), with its parent
// recorded on its first event. Status shows a run's parent and children,
// and GET /runs/{id} with them.

// childRuns is the engine as a runtime.ChildRuns.
type childRuns struct{ e *Engine }

// AttachChild starts, resumes or finds run id of flow and reports its end.
func (c childRuns) AttachChild(ctx context.Context, flow, id string, parent runtime.RunRef, input func() any, ended func(runtime.RunEnd)) (func() error, error) {
	e := c.e
	// A pass fails to attach only when the run moved meanwhile (it ended,
	// or another caller started or resumed it): the next pass finds it.
	for pass := range 50 {
		if r, ok := e.liveRunOf(id); ok {
			r.OnEnd(ended)
			return r.Abort, nil
		}
		if info, ok := e.store.Get(id); ok {
			if info.Flow != flow { // not the child: the parent must not link to it
				return nil, fmt.Errorf("%w: %w: child run %q is a run of flow %q, not %q", runtime.ErrChildNotStarted, ErrRunIDTaken, id, info.Flow, flow)
			}
			if info.State.Terminal() {
				h, err := e.store.Load(id)
				if err != nil {
					return nil, err
				}
				end, err := runtime.RunEndOf(h)
				if err != nil {
					return nil, err
				}
				ended(end)
				return func() error { return runtime.ErrFinished }, nil
			}
			fe, err := e.lookup(flow)
			if err != nil {
				return nil, err
			}
			if err := e.resumeRun(e.baseCtx, fe, id, false); err != nil && !errors.Is(err, errDriven) {
				return nil, err
			}
		} else {
			// Each failure here starts nothing: the parent's status does
			// not list the child (runtime.ErrChildNotStarted).
			fe, err := e.lookup(flow)
			if err != nil {
				return nil, fmt.Errorf("%w: %q of flow %q: %w", runtime.ErrChildNotStarted, id, flow, err)
			}
			// The parent was admitted: its child counts against
			// MaxRunning but is never refused.
			var state json.RawMessage // a missing field: the zero state
			in := input()
			if raw, ok := in.(json.RawMessage); in != nil && (!ok || len(raw) > 0) {
				state, err = runtime.EncodeState(in) // a Go flow's child state: a value
			}
			if err != nil {
				return nil, fmt.Errorf("%w: %q of flow %q: its state does not encode: %w", runtime.ErrChildNotStarted, id, flow, err)
			}
			_, err = e.startRun(ctx, fe, state, id, false, admitAlways, runtime.WithParent(parent))
			switch {
			case err == nil, errors.Is(err, ErrRunExists):
			case errors.Is(err, ErrRunIDTaken), errors.Is(err, errStarting):
				return nil, err // a run of that ID exists, or is being started elsewhere
			default:
				return nil, fmt.Errorf("%w: %q of flow %q: %w", runtime.ErrChildNotStarted, id, flow, err)
			}
		}
		if pass > 0 {
			time.Sleep(time.Millisecond) // another engine sharing the store drives it
		}
	}
	return nil, fmt.Errorf("%w: child run %q of flow %q", errDriven, id, flow)
}

// callInput is the initial state of the child of a JSON flow's call: the
// object in the state field (nil: none).
func callInput(field string) func(s *State) any {
	if field == "" {
		return nil
	}
	return func(s *State) any { return s.Raw(field) }
}

// callExec writes the child's final state, the payload of the call's
// wake-up, to the state field (none: nothing to do).
func callExec(field string) func(ctx context.Context, s *State) (runtime.Outcome, error) {
	if field == "" {
		return nil
	}
	return func(ctx context.Context, s *State) (runtime.Outcome, error) {
		if err := s.Set(field, json.RawMessage(runtime.EventPayload(ctx))); err != nil {
			return "", runtime.Permanent(err)
		}
		return runtime.OutcomeOK, nil
	}
}
