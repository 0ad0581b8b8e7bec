package flowtemporal

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// branchEnd is how a branch's attempts ended, sent from its workflow
// goroutine to the run's, which alone records events and owns the state.
type branchEnd[S any] struct {
	branch   int
	tried[S] // its state is the branch's copy, as its activity returned it
}

// parallel runs the branches of block at the same time, each in a
// workflow goroutine with its own activity (retries, timeout, deadline,
// idempotency key) on a copy of the state as the block was entered, as the
// runtime runs them (docs/runtime.md, Parallel blocks). Each branch's end
// is recorded as it comes, a completed branch's writes merged
// (Step.MergeBranch) and its rollback stacked in completion order. The
// first branch that fails cancels the others; a cancelled branch's activity
// is waited for, and one that succeeded anyway completed. It returns the
// block's outcome and error, or aborted when the run was cancelled.
func (r *wfRun[S]) parallel(block *runtime.Step[S]) (runtime.Outcome, error, bool) {
	base := r.state
	bctx, cancel := workflow.WithCancel(r.ctx)
	defer cancel()
	dctx, _ := workflow.NewDisconnectedContext(r.ctx)
	ends := workflow.NewBufferedChannel(r.ctx, len(block.Branches))
	joined := runtime.ParallelState(block.ID)
	// The block's entry checked the history bound (the branches' starts
	// may then reach it): the branches' retries check it on, as the
	// runtime's do.
	counted := r.f.def.HistoryFull(len(r.history)) == nil
	for i, b := range block.Branches {
		r.visits[b.ID]++
		visit := r.visits[b.ID]
		r.emitBranch(b.ID, joined, runtime.RunningState(b.ID), 0, "", nil, nil)
		entered := workflow.Now(r.ctx)
		workflow.Go(bctx, func(ctx workflow.Context) {
			e := branchEnd[S]{branch: i, tried: r.attempts(ctx, b, visit, base, nil, entered, b.ID, counted)}
			ends.Send(dctx, e) // buffered for every branch: never blocks
		})
	}
	var failed *branchEnd[S]
	for range block.Branches {
		var e branchEnd[S]
		ends.Receive(dctx, &e)
		b := block.Branches[e.branch]
		if e.cancelled {
			cause := runtime.ErrBranchCancelled
			if r.ctx.Err() != nil {
				cause = runtime.ErrAborted
			}
			out := runtime.OutcomeError
			if e.attempt > 0 && e.err != nil { // the attempt the cancellation waited for failed: its error, marked, as on the runtime
				out, cause = e.out, fmt.Errorf("%w: %w", cause, e.err)
			}
			r.emitBranch(b.ID, runtime.RunningState(b.ID), joined, e.attempt, out, cause, nil)
			continue
		}
		ev, out, err := runtime.BranchEnd(e.out, e.err)
		if ev == runtime.OutcomeOK {
			saved := r.state
			if b.MergeBranch(&r.state, &e.state) {
				if merr := r.mergeEncodes(saved); merr != nil {
					ev, out, err = runtime.BranchEnd("", merr)
				}
			}
		}
		if ev == runtime.OutcomeOK {
			if b.Rollback != nil {
				r.done = append(r.done, completion{b.ID, r.visits[b.ID]})
			}
		}
		r.emitBranch(b.ID, runtime.RunningState(b.ID), joined, e.attempt, out, err, nil)
		if err != nil && failed == nil && r.ctx.Err() == nil {
			e.err = err
			failed = &e
			cancel()
		}
	}
	switch {
	case r.ctx.Err() != nil:
		return "", nil, true
	case failed != nil:
		return runtime.FailedOutcome(failed.err), runtime.BlockFailure(block.Branches[failed.branch].ID, failed.err), false
	}
	return runtime.OutcomeOK, nil, false
}

// mergeEncodes checks that the run's state, as a branch's merged writes
// left it, encodes as JSON, as the runtime checks it (its encodes): one
// that does not fails the branch (runtime.StateNotJSON), with the state
// back to saved, and the flow routes the block's failure. A run that
// merged such writes before replays as it ran: GetVersion is asked only
// when the state does not encode. So is one whose state is past the
// cluster's payload limit (Flow.merged), which the cluster would refuse in
// the next step's input or the run's end (versionMergeLimit).
func (r *wfRun[S]) mergeEncodes(saved S) error {
	_, err := runtime.EncodeState(&r.state)
	if err == nil {
		err = r.f.merged(&r.state)
		if err == nil || workflow.GetVersion(r.ctx, versionMergeLimit, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return nil
		}
		r.state = saved
		return err
	}
	if workflow.GetVersion(r.ctx, versionMergeNotJSON, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	r.state = saved
	return runtime.StateNotJSON(err)
}
