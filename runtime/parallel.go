package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowgen/flowgen/internal/option"
	"github.com/looplab/fsm"
)

// NewParallel returns a parallel block (see Step.Branches): branches run
// at the same time; opts may set the block's Next (WithNext).
func NewParallel[S any](id string, branches []*Step[S], opts ...StepOption[S]) *Step[S] {
	st := &Step[S]{ID: id, Branches: branches}
	option.Apply(st, opts)
	return st
}

// WithWrites sets how a branch of a parallel block merges what it wrote
// into the run's state when it completes (see Step.Writes).
func WithWrites[S any](merge func(dst, src *S)) StepOption[S] {
	return func(s *Step[S]) { s.Writes = merge }
}

// ParallelState is the machine state of a run inside parallel block step.
func ParallelState(step string) string { return step + ":" + PhaseParallel }

// evFork is the branch machine's event that starts branch step.
func evFork(step string) string { return "@fork:" + step }

// checkBlock checks what only a parallel block or its branches may get
// wrong.
func checkBlock[S any](st *Step[S]) error {
	switch {
	case st.Exec != nil || st.Await != nil || st.Sleep != nil || st.Rollback != nil || len(st.Publish) > 0:
		return fmt.Errorf("%w: parallel block %q has an action or rollback of its own: its branches have them", ErrDefinition, st.ID)
	case st.Irreversible || st.Writes != nil:
		return fmt.Errorf("%w: parallel block %q is irreversible or writes: its branches are", ErrDefinition, st.ID)
	}
	for _, b := range st.Branches {
		if err := checkStep(b); err != nil {
			return err
		}
		switch {
		case len(b.Branches) > 0:
			return fmt.Errorf("%w: branch %q of parallel block %q is a parallel block", ErrDefinition, b.ID, st.ID)
		case b.Await != nil || b.Sleep != nil || b.Call != nil: // a call waits for its child run
			return fmt.Errorf("%w: branch %q of parallel block %q waits: a branch cannot wait", ErrDefinition, b.ID, st.ID)
		case len(b.Next) > 0:
			return fmt.Errorf("%w: branch %q of parallel block %q routes outcomes: branches end where the block ends", ErrDefinition, b.ID, st.ID)
		}
	}
	return nil
}

// lane is a branch of the parallel block the run is in, as its history
// says: the progress a branch has of its own.
type lane struct {
	state   string // the branch machine's state: the block's, or the branch running
	started bool
	running bool
	failed  bool // ended without completing
	end     laneEnd
	attempt int
	retryAt time.Time // when attempt may start (progress.retryAt)
	entered time.Time
}

// laneEnd is how a branch that failed ended, as its history recorded it.
type laneEnd struct {
	seq       uint64
	outcome   Outcome
	err       string
	cancelled bool // Event.Cancelled: another branch's failure ended it
	// interrupted: the run's abort ended it (Event.InterruptedBranch), no
	// failure of the block's
	interrupted bool
}

// branchMsg is what a branch's goroutine tells the run's goroutine, which
// alone records events and owns the run's state.
type branchMsg[S any] struct {
	branch  int // step index
	retry   bool
	stopped bool // suspended before its next attempt: nothing to record
	attempt int
	retryAt time.Time // a retry's: when the next attempt may start
	out     Outcome
	err     error
	state   S // the branch's copy, on its end
	done    chan error
}

// runParallel runs the branches of block b that have not ended, records
// their events as they come, and moves the run out of the block.
func (r *Run[S]) runParallel(b *stepDef[S]) error {
	p := &r.progress
	if err := r.blockEntry(b); err != nil { // the block did not start: nothing in it to roll back
		return r.fire(evFail, 0, OutcomeError, err)
	}
	var base S
	if err := r.blockBase(b, &base); err != nil {
		return err
	}
	bctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	msgs := make(chan branchMsg[S])
	machines := make(map[int]*fsm.FSM, len(b.branches))
	defer func() {
		for _, m := range machines {
			r.def.machines.Put(m)
		}
	}()
	// The first branch that failed. A run resumed aborted (its request
	// kept) winds down as the abort does, not as a failure: a branch the
	// abort interrupted before the crash failed nothing.
	failed := failedBefore[S](p, b, r.ctx.Err() != nil)
	var halt error
	running := 0
	for _, x := range b.branches {
		l := &p.lanes[x]
		if l.started && !l.running {
			continue
		}
		m := r.def.machine(l.state)
		machines[x] = m
		d := &r.def.steps[x]
		if failed != nil && l.running { // resumed after a branch failed: wind down
			// No attempt ends here (Attempt 0), as for a branch cancelled
			// before its attempt ran: the history cannot tell whether the
			// attempt it shows next (the first after the branch's start,
			// or the one after a retry's backoff) had begun.
			if halt = r.fireBranch(m, d, OutcomeError, 0, OutcomeError, ErrBranchCancelled); halt != nil {
				break
			}
			continue
		}
		if failed != nil {
			continue // never started; the block fails
		}
		if !l.started {
			if halt = r.fireBranch(m, d, evFork(d.ID), 0, "", nil); halt != nil {
				break
			}
		}
		running++
		go r.branch(bctx, d, base, *l, p.visits[x], msgs) // a copy: the lane changes as the run records
	}
	if halt != nil {
		cancel(halt)
	}
	suspended := false
	for running > 0 {
		msg := <-msgs
		if msg.stopped {
			running--
			suspended = true
			continue
		}
		if halt != nil {
			if msg.retry {
				msg.done <- halt
			} else {
				running--
			}
			continue
		}
		m, d := machines[msg.branch], &r.def.steps[msg.branch]
		if msg.retry {
			n := attemptEnded(msg.attempt, OutcomeRetry, msg.err)
			n.retryAt = msg.retryAt
			halt = r.fireBranchNext(m, d, OutcomeRetry, n)
			if halt != nil {
				cancel(halt)
				msg.done <- halt
				continue
			}
			// The branch's next attempt checks the run's history bound,
			// as a step's does, here where the history is: a branch whose
			// policy allows any number of attempts would otherwise
			// record retries past every bound. Full, the branch fails
			// with the error, and the block with it.
			msg.done <- r.historyFull()
			continue
		}
		running--
		ev, out, err := BranchEnd(msg.out, msg.err)
		if ev == OutcomeOK {
			saved := r.state
			if d.MergeBranch(&r.state, &msg.state) {
				r.clean = false
				// What the branch wrote must encode, as an attempt's
				// state must (encodes): else the branch fails.
				if eerr := r.encodes(saved); eerr != nil {
					ev, out, err = BranchEnd("", eerr)
				}
			}
		}
		if halt = r.fireBranch(m, d, ev, msg.attempt, out, err); halt != nil {
			cancel(halt)
			continue
		}
		if err != nil && failed == nil && !errors.Is(err, ErrBranchCancelled) {
			msg.err = err
			failed = &msg
			cancel(ErrBranchCancelled)
		}
	}
	switch {
	case halt != nil:
		return halt
	case r.ctx.Err() != nil:
		return r.fire(evAbort, 0, "", ErrAborted)
	case failed != nil:
		out := failedOutcome(failed.err)
		return r.fire(out, 0, out, BlockFailure(r.def.steps[failed.branch].ID, failed.err))
	case suspended:
		return errSuspend
	}
	return r.fire(OutcomeOK, 0, OutcomeOK, nil)
}

// failedBefore is the branch of block b whose failure its history
// recorded first, the one the block fails with (nil when none failed: the
// run was not resumed after one did), with the error and outcome the
// history recorded for it, so that the block ends, and routes, as it
// would have without the crash. A branch the failure cancelled did not
// fail by itself (Event.Cancelled); the one that did comes before it in
// the history, whatever their places in the block. For a run resumed
// aborted, a branch the abort interrupted (Event.InterruptedBranch) did
// not fail either; without the abort kept (a sink that keeps no abort
// requests), it is what the block fails with, as before.
func failedBefore[S any](p *progress, b *stepDef[S], aborted bool) *branchMsg[S] {
	var first *lane
	x := -1
	for _, i := range b.branches {
		l := &p.lanes[i]
		if !l.failed || aborted && l.end.interrupted {
			continue
		}
		switch {
		case first == nil, first.end.cancelled && !l.end.cancelled:
			first, x = l, i
		case first.end.cancelled == l.end.cancelled && l.end.seq < first.end.seq:
			first, x = l, i
		}
	}
	if first == nil {
		return nil
	}
	return &branchMsg[S]{branch: x, err: &recordedError{msg: first.end.err, timeout: first.end.outcome == OutcomeTimeout}}
}

// recordedError is an error read back from a history: the text an event
// recorded and, when the event's outcome was timeout, ErrTimeout, from
// which that outcome is decided again (failedOutcome).
type recordedError struct {
	msg     string
	timeout bool
}

func (e *recordedError) Error() string { return e.msg }

func (e *recordedError) Unwrap() error {
	if e.timeout {
		return ErrTimeout
	}
	return nil
}

// blockEntry returns the error that fails the run, as runStep's before an
// attempt, when block b is entered (none of its branches started) with
// the run's history at its bound (WithMaxHistory): a branch checks it
// only before a retry, not before its first attempt, so a cycle of blocks
// would record events without end.
func (r *Run[S]) blockEntry(b *stepDef[S]) error {
	for _, x := range b.branches {
		if r.progress.lanes[x].started {
			return nil
		}
	}
	return r.historyFull()
}

// blockBase sets base to the state block b was entered with: the run's
// state when no branch has started yet, else (after Resume) the snapshot
// of the event that entered the block (completed branches merged since).
func (r *Run[S]) blockBase(b *stepDef[S], base *S) error {
	fresh := true
	for _, x := range b.branches {
		fresh = fresh && !r.progress.lanes[x].started
	}
	if fresh || r.progress.blockSnap == nil {
		*base = r.state
		return nil
	}
	if err := json.Unmarshal(r.progress.blockSnap, base); err != nil {
		return &HistoryError{Seq: r.progress.seq, Msg: "the state the parallel block was entered with does not decode: " + err.Error()}
	}
	return nil
}

// branch runs branch d's attempts on its own copy of the state, from
// where its lane l is (its attempt, 0 for a new start, and that attempt's
// backoff), and tells the run's goroutine of its retries and its end.
func (r *Run[S]) branch(ctx context.Context, d *stepDef[S], state S, l lane, visit int32, msgs chan<- branchMsg[S]) {
	attempt := max(l.attempt, 1)
	v := visitRun[S]{d: d, ctx: ctx, state: &state, attempt: &attempt, entered: l.entered, retryAt: l.retryAt, visit: visit, msgs: msgs}
	out, err, stop := r.attempts(&v)
	switch {
	case stop == errSuspend:
		msgs <- branchMsg[S]{branch: d.index, stopped: true}
		return
	case stop == errNotRun: // cancelled before an attempt ran
		attempt, err = 0, ErrAborted
		if c := context.Cause(ctx); errors.Is(c, ErrBranchCancelled) {
			err = ErrBranchCancelled
		}
	case stop == errCancelled:
		err = abortedBranch(ctx, cancelledBranch(ctx, err))
	case stop == errHistoryFull: // err, recorded as the branch's end, says why
	case stop != nil: // the run stopped: nothing is recorded
		err = stop
	}
	msgs <- branchMsg[S]{branch: d.index, attempt: attempt, out: out, err: err, state: state}
}

// cancelledBranch is err, how an attempt under ctx ended, marked as the
// end of a branch its block cancelled because another branch failed
// (ErrBranchCancelled wrapping it: Event.Cancelled), when it is one. An
// attempt that returned the cause itself (context.Cause(ctx), the idiom
// since Go 1.20) is marked already: wrapping it again would record the
// message twice. One whose error wraps the cause under a text of its own
// (an rpc Caller's "request failed") is not: the record is the text.
func cancelledBranch(ctx context.Context, err error) error {
	if err != nil && !cancelledText(err.Error()) && errors.Is(context.Cause(ctx), ErrBranchCancelled) {
		return fmt.Errorf("%w: %w", ErrBranchCancelled, err)
	}
	return err
}

// abortedBranch is err, how a branch's attempt under ctx ended, marked as
// cut short by the run's abort (ErrAborted wrapping it:
// Event.InterruptedBranch), when it is one and is not marked already: a
// branch the abort cancelled before an attempt ran records ErrAborted
// alone.
func abortedBranch(ctx context.Context, err error) error {
	if err != nil && !abortedText(err.Error()) && errors.Is(context.Cause(ctx), ErrAborted) {
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	return err
}

// fireBranch moves branch d's machine m by event ev and records the move,
// as fire does for the run's machine.
func (r *Run[S]) fireBranch(m *fsm.FSM, d *stepDef[S], ev string, attempt int, out Outcome, err error) error {
	return r.fireBranchNext(m, d, ev, attemptEnded(attempt, out, err))
}

// fireBranchNext is fireBranch of an event that records n.
func (r *Run[S]) fireBranchNext(m *fsm.FSM, d *stepDef[S], ev string, n nextEvent) error {
	r.next = n
	from := r.def.states[m.Current()]
	if err := m.Event(context.Background(), ev); err != nil && !isNoTransition(err) {
		return r.def.illegal(from.name, ev, err)
	}
	if err := r.recordBranch(from, r.def.states[m.Current()], d); err != nil {
		m.SetState(from.name)
		return err
	}
	return nil
}
