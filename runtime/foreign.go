package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// This file is the runtime's face to executors that keep a run's state
// machine somewhere else and run each attempt themselves: flowgen's
// Temporal target (module github.com/flowgen/flowgen/temporal) drives a run
// from a Temporal workflow and runs every attempt in an activity. They use
// the flow's own definition, so a step, its routing, its idempotency key
// and its context mean the same on either executor. The runtime's own runs
// do not go through here.

// Action is one attempt of a step, or of its rollback: what an Observer is
// told of each attempt the runtime runs, and what another executor asks
// ExecAction and RollbackAction to run.
type Action struct {
	RunID    string `json:"run_id"`
	Step     string `json:"step"`
	Visit    int    `json:"visit,omitempty"` // 1 (or 0) for the step's first execution in the run
	Attempt  int    `json:"attempt,omitempty"`
	Rollback bool   `json:"rollback,omitempty"`
	// Payload is the event the step waited for, if it awaited one.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Key is the idempotency key of a: the same as IdempotencyKey(ctx) inside it.
func (a Action) Key() Key {
	return Key{RunID: a.RunID, Step: a.Step, Visit: max(a.Visit, 1), Rollback: a.Rollback}
}

// actionContext is the context the runtime would give a's attempt.
func (f *Flow[S]) actionContext(ctx context.Context, a Action) *stepCtx {
	return &stepCtx{Context: ctx, env: &runEnv{runID: a.RunID, flow: f.id, opts: &f.opts},
		step: a.Step, visit: int32(max(a.Visit, 1)), attempt: int32(max(a.Attempt, 1)), rollback: a.Rollback, payload: a.Payload}
}

// foreignStep finds the registered step a names, compiling the flow first
// as a Start would.
func (f *Flow[S]) foreignStep(a Action) (*stepDef[S], error) {
	d, err := f.definition()
	if err != nil {
		return nil, err
	}
	i, ok := d.byID[a.Step]
	if !ok {
		return nil, fmt.Errorf("%w: flow %q has no step %q", ErrDefinition, f.id, a.Step)
	}
	return &d.steps[i], nil
}

// ExecAction runs one attempt of step a.Step on *s as the runtime runs one:
// its Exec, then its publications (a failed one fails the attempt), under a
// context where IdempotencyKey, Attempt, RunID and EventPayload answer for
// a and where the flow's Caller and Publisher serve rpc and publish steps.
// A panic is a *PanicError. It neither retries nor times out: the executor
// does.
func (f *Flow[S]) ExecAction(ctx context.Context, a Action, s *S) (Outcome, error) {
	a.Rollback = false
	d, err := f.foreignStep(a)
	if err != nil {
		return "", err
	}
	out, err := d.exec(f.actionContext(ctx, a), s, f.opts.pub)
	return okOutcome(out), err
}

// RollbackAction runs one attempt of the rollback of step a.Step on *s, as
// ExecAction runs a step. A step without a rollback has nothing to undo.
func (f *Flow[S]) RollbackAction(ctx context.Context, a Action, s *S) error {
	a.Rollback = true
	d, err := f.foreignStep(a)
	if err != nil || !d.hasRollback {
		return err
	}
	return d.undo(f.actionContext(ctx, a), s)
}

// Route returns where outcome out of step leads, by the flow's routing
// (Step.Next, else ok to the next step or Done after the last, and error
// and timeout to Fail): a step ID, Done or Fail. A named outcome that Next
// does not route is an error wrapping ErrUnknownOutcome, as in a run.
func (f *Flow[S]) Route(step string, out Outcome) (string, error) {
	d, err := f.definition()
	if err != nil {
		return "", err
	}
	i, ok := d.byID[step]
	if !ok {
		return "", fmt.Errorf("%w: flow %q has no step %q", ErrDefinition, f.id, step)
	}
	return d.route(i, out)
}

// route is Route for the step of index i.
func (d *definition[S]) route(i int, out Outcome) (string, error) {
	out = okOutcome(out)
	from := d.steps[i].entry // a step's outcomes leave its running state, a block's its parallel one
	if r := d.steps[i].running; r != nil {
		from = r.name
	}
	for _, ev := range d.events {
		if ev.Name != out || !slices.Contains(ev.Src, from) {
			continue
		}
		switch to := d.states[ev.Dst]; {
		case to.kind == kindFailing:
			return Fail, nil
		case to.kind == kindTerminal:
			return Done, nil
		default:
			return d.steps[to.step].ID, nil
		}
	}
	return "", outcomeUnknown(out)
}

// FailedOutcome is the outcome of a step whose last attempt failed with
// err: "timeout" when err wraps ErrTimeout, else "error".
func FailedOutcome(err error) Outcome { return failedOutcome(err) }

// EndState is the terminal state an unwind ends in: compensation_failed
// when a rollback kept failing, else aborted after an abort, compensated
// when a rollback ran, failed when there was nothing to undo.
func EndState(aborted, rolledBack, rollbackFailed bool) RunState {
	p := progress{rolledBack: rolledBack}
	if rollbackFailed {
		p.rollbackErrs = []error{nil}
	}
	kind := kindFailing
	if aborted {
		kind = kindAborting
	}
	return p.terminal(kind)
}

// Sink returns the sink the flow emits to (WithSink; a sink that drops
// events when none was given).
func (f *Flow[S]) Sink() Sink { return f.opts.sink }

// Subscriber returns the Subscriber the flow's awaits ask (WithSubscriber;
// nil when none was given): an executor whose awaits take events another
// way refuses one it would never ask.
func (f *Flow[S]) Subscriber() Subscriber { return f.opts.sub }

// BranchEnd is how a branch of a parallel block whose attempts returned
// out and err ends: ev is the branch machine's event (ok only when the
// branch completed: its writes are merged and it joins the rollback
// stack), rec the outcome to record, and err the error to record. A named
// outcome fails the branch: branches do not route.
func BranchEnd(out Outcome, err error) (ev, rec Outcome, _ error) {
	switch out = okOutcome(out); {
	case err != nil:
		ev = failedOutcome(err)
		return ev, ev, err
	case out != OutcomeOK:
		return OutcomeError, out, fmt.Errorf("%w %q: a branch of a parallel block ends ok or fails", ErrUnknownOutcome, out)
	}
	return OutcomeOK, OutcomeOK, nil
}

// BlockFailure is the error a parallel block fails with when its branch
// failed with err (the event leaving the block records it).
func BlockFailure(branch string, err error) error { return fmt.Errorf("branch %s: %w", branch, err) }

// MergeBranch merges what branch, a branch of a parallel block, wrote on
// its copy of the state (src) into the run's state (dst), as a run does
// when the branch completes (Step.Writes; a branch without Writes changes
// nothing). It reports whether it wrote.
func (st *Step[S]) MergeBranch(dst, src *S) bool {
	if st.Writes == nil {
		return false
	}
	st.Writes(dst, src)
	return true
}

// RollbackCall is what the step's rollback runs when it is a rollback
// call (WithRollbackCall): the flow, and the child's state from the
// parent's; nil for any other rollback.
func (st *Step[S]) RollbackCall() *FlowCall[S] { return st.rollbackCall }

// BackoffCeiling is the backoff of policy p before attempt failed+1, with
// no jitter: the interval full jitter draws below.
func BackoffCeiling(p RetryPolicy, failed int) time.Duration { return p.backoff(failed) }
