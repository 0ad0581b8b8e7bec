package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Calls: a step that runs another flow as a child run.
//
// A call step is entered in its waiting state, like an await: the event
// that enters it records the child it waits for (Wait.Child), whose run ID
// is ChildRunID of the step's key. The run then parks: it starts the child
// (or finds it: live, resumed from its history, or ended already) and
// asks to be told when the child ends (Run.OnEnd); its goroutine ends. The
// child's end wakes it: a child that ended done wakes the step
// ("X:waiting" -> "X:running", the child's final state as the payload),
// which copies the child's final state into the parent's state; a child
// that ended failed, compensated, aborted or compensation_failed fails the
// step with a *ChildError (the child has undone its own steps). Aborting
// the parent aborts the child, and the parent ends once the child has.
// After a crash the parent's Resume parks again, finds the same child by
// its ID and waits for its end.
//
// A rollback call (WithRollbackCall) runs a child as a step's rollback: the
// rollback attempt waits for the child's end, and fails unless it ends
// done. Each attempt of the rollback has its own child.

// RunRef names a run of a flow: the child a call waits for, the parent a
// child run was started by.
type RunRef struct {
	Flow  string `json:"flow"`
	RunID string `json:"run_id"`
}

// RunEnd is how a run ended, for OnEnd.
type RunEnd struct {
	RunID string
	Final RunState
	// State is the run's final state snapshot (its JSON).
	State json.RawMessage
	Err   error // nil when Final is done
}

// ChildRuns runs the child runs of call steps: a *Flow (NewCall,
// WithRollbackCall), or an engine that runs its flows by name
// (NewCallBy).
type ChildRuns interface {
	// AttachChild makes sure that run id of flow exists and reports its
	// end: it starts it, with the state input returns and parent recorded
	// on its first event, unless the run is live already, or in the sink
	// (resumed if it is not over). ended is called once, when the run
	// ends (at once for a run that has ended); it must not block. abort
	// aborts the child.
	AttachChild(ctx context.Context, flow, id string, parent RunRef, input func() any, ended func(RunEnd)) (abort func() error, err error)
}

// ChildError is the error of a call step whose child run did not end done,
// or of a rollback call whose child did not. It does not unwrap to the
// child's error: the child's abort or a permanent error of one of its steps
// is not the parent's (errors.Is(err, ErrAborted) is about the parent).
type ChildError struct {
	Child RunRef
	Final RunState
	Err   error
}

func (e *ChildError) Error() string {
	return fmt.Sprintf("child run %q of flow %q ended %s: %v", e.Child.RunID, e.Child.Flow, e.Final, e.Err)
}

// FlowCall is what a call step runs: a child run of flow Flow, started with
// the state Input returns from the parent's state, through Runs.
type FlowCall[S any] struct {
	Flow  string
	Input func(s *S) any
	Runs  ChildRuns
}

// NewCall returns a step that runs child as a child run: its initial state
// is in(parent state), read when the step is entered, and its final state
// goes to out(parent state) when it ends done (nil out: discarded). The
// parent waits for the child without holding a goroutine (see Step.Call).
func NewCall[S, C any](id string, child *Flow[C], in func(s *S) C, out func(s *S) *C, opts ...StepOption[S]) *Step[S] {
	var into func(s *S) any
	if out != nil {
		into = func(s *S) any { return out(s) }
	}
	var input func(s *S) any
	if in != nil {
		input = func(s *S) any { return in(s) }
	}
	if child == nil { // Register refuses a call of no flow
		return NewCallBy(id, nil, "", input, into, opts...)
	}
	return NewCallBy(id, child, child.ID(), input, into, opts...)
}

// NewCallBy is NewCall with the child's state type erased: runs runs the
// child runs of flow (an engine's JSON flows). in gives the child's
// initial state (nil: its zero state); the child's final state JSON
// decodes into into(parent state) (nil: discarded).
func NewCallBy[S any](id string, runs ChildRuns, flow string, in func(s *S) any, into func(s *S) any, opts ...StepOption[S]) *Step[S] {
	st := NewStep[S](id, nil, opts...)
	st.Call = &FlowCall[S]{Flow: flow, Input: in, Runs: runs}
	if into != nil {
		st.Exec = func(ctx context.Context, s *S) (Outcome, error) {
			if err := json.Unmarshal(EventPayload(ctx), into(s)); err != nil {
				return "", Permanent(fmt.Errorf("decoding the final state of child flow %q: %w", flow, err))
			}
			return OutcomeOK, nil
		}
	}
	return st
}

// WithRollbackCall makes the step's rollback a run of child, started with
// the state in(parent state): the rollback succeeds when the child ends
// done. Each rollback attempt runs its own child (ChildRunID), found again
// after a crash.
func WithRollbackCall[S, C any](child *Flow[C], in func(s *S) C) StepOption[S] {
	var input func(s *S) any
	if in != nil {
		input = func(s *S) any { return in(s) }
	}
	if child == nil { // Register refuses a rollback call of no flow
		return WithRollbackCallBy[S](nil, "", input)
	}
	return WithRollbackCallBy(child, child.ID(), input)
}

// WithRollbackCallBy is WithRollbackCall with the child's state type
// erased (see NewCallBy).
func WithRollbackCallBy[S any](runs ChildRuns, flow string, in func(s *S) any) StepOption[S] {
	return func(st *Step[S]) {
		st.rollbackCall, st.rollbackCallBad = &FlowCall[S]{Flow: flow, Input: in, Runs: runs}, runs == nil || flow == ""
		st.Rollback = func(ctx context.Context, s *S) error {
			c := fromCtx(ctx)
			if c == nil {
				return Permanent(errors.New("runtime: rollback call outside a run"))
			}
			ref := RunRef{Flow: flow, RunID: ChildRunID(c.key(), int(c.attempt))}
			input := func() any {
				if in == nil {
					return nil
				}
				return in(s)
			}
			ends := make(chan RunEnd, 1)
			abort, err := c.env.opts.childRuns(runs).AttachChild(context.WithoutCancel(ctx), flow, ref.RunID,
				RunRef{Flow: c.env.flow, RunID: c.env.runID}, input, func(e RunEnd) { ends <- e })
			if err != nil {
				return err
			}
			select {
			case e := <-ends:
				if errors.Is(e.Err, ErrSuspended) {
					// runRollback lets the parent's life here end too,
					// when it is suspending; Resume runs this again.
					return fmt.Errorf("child run %q: %w", ref.RunID, e.Err)
				}
				if e.Final != StateDone {
					// Not permanent: the rollback's retry runs a new child.
					return &ChildError{Child: ref, Final: e.Final, Err: e.Err}
				}
				return nil
			case <-ctx.Done(): // the rollback attempt timed out
				_ = abort()
				return context.Cause(ctx)
			}
		}
	}
}

// WithChildren makes the flow's calls and rollback calls run their child
// runs through c, by flow name, instead of through the callee definition
// they were built with: an engine passes itself, so that child runs are
// its own runs (locked, tracked, suspended on Close, resumed on Start).
func WithChildren(c ChildRuns) Option { return func(o *options) { o.children = c } }

// childRuns is what runs the children of a call built with runs.
func (o *options) childRuns(runs ChildRuns) ChildRuns {
	if o.children != nil {
		return o.children
	}
	return runs
}

// WithParent records parent on the run's first event (Event.Parent): the
// run is a child run of a call of parent. NewCall's child runs get it; an
// engine that starts child runs itself passes it.
func WithParent(parent RunRef) RunOption {
	return func(o *runOptions) { o.parent = &parent }
}

// key is the idempotency key of the action running under c.
func (c *stepCtx) key() Key {
	return Key{RunID: c.env.runID, Step: c.step, Visit: int(c.visit), Rollback: c.rollback}
}

// AttachChild implements ChildRuns for the runs of f: the child is found
// live in f, loaded from f's sink (resumed unless over), or started with
// WithRunID(id) and WithParent(parent). input must return an S.
func (f *Flow[S]) AttachChild(ctx context.Context, flow, id string, parent RunRef, input func() any, ended func(RunEnd)) (func() error, error) {
	if flow != f.id {
		return nil, fmt.Errorf("%w: %w: child run %q of flow %q asked of flow %q", ErrChildNotStarted, ErrDefinition, id, flow, f.id)
	}
	// Each pass either attaches or finds that another driver (a ResumeAll,
	// another parent's attach) got there first, which the next pass sees;
	// the bound only stops a sink that keeps contradicting itself.
	for range 16 {
		if r, ok := f.liveRun(id); ok {
			r.OnEnd(ended)
			return r.Abort, nil
		}
		if l := f.opts.loader; l != nil {
			h, err := l.LoadHistory(ctx, id)
			switch {
			case err == nil && len(h) > 0:
				if h[0].Flow != f.id {
					// Not the child: the parent must not link to it.
					return nil, fmt.Errorf("%w: %w: child run %q is a run of flow %q, not %q", ErrChildNotStarted, ErrDuplicateRun, id, h[0].Flow, f.id)
				}
				end, err := RunEndOf(h)
				if err != nil {
					return nil, fmt.Errorf("child run %q: %w", id, err)
				}
				if end.Final.Terminal() {
					ended(end)
					return func() error { return ErrFinished }, nil
				}
				r, err := f.Resume(ctx, h)
				if errors.Is(err, ErrDuplicateRun) || errors.Is(err, ErrFinished) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("resuming child run %q: %w", id, err)
				}
				r.OnEnd(ended)
				return r.Abort, nil
			case err != nil && !errors.Is(err, ErrUnknownRun):
				return nil, fmt.Errorf("loading child run %q: %w", id, err)
			}
		}
		var s S
		if in := input(); in != nil {
			v, ok := in.(S)
			if !ok {
				return nil, fmt.Errorf("%w: %w: child run %q of flow %q: input is a %T, not the flow's state", ErrChildNotStarted, ErrDefinition, id, f.id, in)
			}
			s = v
		}
		r, err := f.Start(ctx, s, WithRunID(id), WithParent(parent))
		if errors.Is(err, ErrDuplicateRun) {
			continue
		}
		if err != nil { // Start recorded nothing
			return nil, fmt.Errorf("%w: %q of flow %q: %w", ErrChildNotStarted, id, f.id, err)
		}
		r.OnEnd(ended)
		return r.Abort, nil
	}
	return nil, fmt.Errorf("%w: child run %q of flow %q keeps starting and ending elsewhere", ErrDuplicateRun, id, f.id)
}

// OnEnd asks for fn to be called once when the run's life here ends: right
// away for a run that has ended. A run stopped by Suspend calls fn with
// Final where it stopped and Err wrapping ErrSuspended (it goes on after
// Resume, as another Run); a run a sink stopped does not call it. fn runs on
// the run's goroutine and must not block.
func (r *Run[S]) OnEnd(fn func(RunEnd)) {
	r.mu.Lock()
	if !r.over {
		r.ends = append(r.ends, fn)
		r.mu.Unlock()
		return
	}
	end, set := r.fin.end, r.fin.endSet
	r.mu.Unlock()
	if set {
		fn(end)
	}
}

// takeEnds sets how the run's life here ended, for OnEnd, and takes the
// watchers to tell (nil when a sink stopped the run). release calls it with
// r.mu held, in the same hold that marks the run over: an OnEnd that finds
// the run over then finds its end too. Set later, an OnEnd in between
// found neither and its fn was never called (a parent attaching to a child
// as it ended waited for it forever).
func (r *Run[S]) takeEnds(halt error) (RunEnd, []func(RunEnd)) {
	if halt != nil {
		return RunEnd{}, nil
	}
	end := RunEnd{RunID: r.env.runID, Final: r.fin.result.Final, State: r.snap, Err: r.fin.result.Err}
	fns := r.ends
	r.ends = nil
	r.fin.end, r.fin.endSet = end, true
	return end, fns
}

// callChild is the child run step d calls in the visit being entered.
func (r *Run[S]) callChild(d *stepDef[S]) *RunRef {
	visit := int(r.progress.visits[d.index]) + 1
	return &RunRef{Flow: d.Call.Flow, RunID: ChildRunID(Key{RunID: r.env.runID, Step: d.ID, Visit: visit}, 1)}
}

// rollbackChild is the child run of the rollback call of d whose attempt
// ended (the event being recorded), or nil for another rollback.
func (r *Run[S]) rollbackChild(d *stepDef[S], attempt int) *RunRef {
	if d.rollbackCall == nil || attempt < 1 {
		return nil
	}
	return r.rollbackChildAt(d, r.progress.undoing.visit, attempt)
}

// rollbackChildAt is the child run of attempt of the rollback call of d's
// visit: ChildRunID of the rollback's key.
func (r *Run[S]) rollbackChildAt(d *stepDef[S], visit int32, attempt int) *RunRef {
	k := Key{RunID: r.env.runID, Step: d.ID, Visit: int(visit), Rollback: true}
	return &RunRef{Flow: d.rollbackCall.Flow, RunID: ChildRunID(k, attempt)}
}

// attachCall starts or finds the child of the call step the run waits in
// (p), before the run hibernates: input reads the state. The child's end
// wakes the run.
func (r *Run[S]) attachCall(p *parking, d *stepDef[S], input any) {
	c := p.wait.Child
	abort, err := r.env.opts.childRuns(d.Call.Runs).AttachChild(r.quiet, c.Flow, c.RunID, RunRef{Flow: r.def.id, RunID: r.env.runID},
		func() any { return input },
		func(e RunEnd) {
			switch {
			case errors.Is(e.Err, ErrSuspended):
				// The child's life here ended without it: so does the
				// parent's, and Resume finds the child again.
				r.wake(p, wakeSuspend, nil, nil)
				return
			case e.Final == StateDone:
				r.wake(p, wakeChild, &Delivery{Payload: e.State}, nil)
				return
			}
			r.wake(p, wakeError, nil, Permanent(&ChildError{Child: *c, Final: e.Final, Err: e.Err}))
		})
	if err != nil {
		if r.suspending.Load() { // the process shuts down: no failure to record
			r.wake(p, wakeSuspend, nil, nil)
			return
		}
		p.unstarted = errors.Is(err, ErrChildNotStarted)
		r.wake(p, wakeError, nil, Permanent(err))
		return
	}
	p.abortChild = abort
}

// callInput is the initial state of the child of call step d, read from
// the run's state before it hibernates; nil for a step that calls nothing.
func (r *Run[S]) callInput(d *stepDef[S]) any {
	if d.Call == nil || d.Call.Input == nil {
		return nil
	}
	return d.Call.Input(&r.state)
}

// links sets the run links of ev, an event of the transition from -> to:
// the parent on a child run's first event, the child on the event that
// ends a call's wait, and on each event ending a rollback call's attempt,
// unless that child was never started (Run.unstarted): Status.Children
// then drops it (tracker.link).
func (r *Run[S]) links(ev *Event, from, to *mstate) {
	p := &r.progress
	if p.seq == 0 {
		ev.Parent = r.parent
	}
	unstarted := r.unstarted
	r.unstarted = false
	switch {
	case unstarted:
	case from.kind == kindWaiting && from != to && p.wait != nil:
		ev.Child = p.wait.Child
	case from.kind == kindRollback:
		ev.Child = r.rollbackChild(&r.def.steps[from.step], ev.Attempt)
	}
}

// MissingCallee is the error of a generated constructor of flow that was
// given no definition of flow callee, which its calls run.
func MissingCallee(flow, callee string) error {
	return fmt.Errorf("%w: flow %q calls flow %q, but its constructor got a nil %s definition", ErrDefinition, flow, callee, callee)
}
