package engine

// Resuming at start: the unfinished runs found in the store are resumed in
// the background, at most Options.ResumeWorkers at a time across the
// engine, while the engine serves. A run not resumed yet is still in the
// store: Status reads it there, Abort resumes it at once to roll it back
// (its run lock then keeps the background resume off it), and the events it
// awaits wait in the inbox. Runs of flows registered later resume the same
// way.

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// maxUndefinedFlowsLogged bounds the flows that logUndefinedFlows names:
// a store may hold the runs of any number of flows.
const maxUndefinedFlowsLogged = 10

// logUndefinedFlows logs, once at Start, the unfinished runs the store
// holds of flows the engine does not define: nothing resumes them until a
// flow of their name is registered (flowgen serve restarted without
// -flows, or a flow file gone), and nothing else would say why they do
// not move.
func (e *Engine) logUndefinedFlows(defined []*flowEntry) {
	if e.opts.Executor != nil || e.store == nil {
		return // the executor keeps the runs
	}
	runs, err := e.store.List(store.Filter{NonTerminal: true})
	if err != nil {
		e.log.Error("listing unfinished runs", "error", err)
		return
	}
	known := map[string]bool{}
	for _, fe := range defined {
		known[fe.name] = true
	}
	count := map[string]int{}
	total := 0
	for _, r := range runs {
		if !known[r.Flow] {
			count[r.Flow]++
			total++
		}
	}
	if total == 0 {
		return
	}
	flows := slices.Sorted(maps.Keys(count))
	args := []any{"runs", total, "flows", flows[:min(len(flows), maxUndefinedFlowsLogged)]}
	if len(flows) > maxUndefinedFlowsLogged {
		args = append(args, "more_flows", len(flows)-maxUndefinedFlowsLogged)
	}
	e.log.Warn("unfinished runs wait for their flows to be defined", args...)
}

// DefaultResumeWorkers is the default Options.ResumeWorkers. Resuming a run
// reads its history and replays it (CPU and the store's reads); a few
// workers keep that off the requests the engine serves meanwhile.
const DefaultResumeWorkers = 4

func (e *Engine) resumeWorkers() int {
	if e.opts.ResumeWorkers > 0 {
		return e.opts.ResumeWorkers
	}
	return DefaultResumeWorkers
}

// resumeState tracks the background resumes in progress, for WaitResumed.
type resumeState struct {
	mu      sync.Mutex
	batches int
	idle    chan struct{} // closed when batches drops to 0
	slots   chan struct{} // one per worker busy resuming a run
}

// resumeFlow resumes every unfinished run of fe from the store in the
// background, except those another engine sharing the store drives (their
// lock is held).
func (e *Engine) resumeFlow(fe *flowEntry) {
	runs, err := e.store.List(store.Filter{Flow: fe.name, NonTerminal: true})
	if err != nil {
		e.log.Error("listing unfinished runs", "flow", fe.name, "error", err)
		return
	}
	if len(runs) == 0 {
		return
	}
	rs := &e.rs
	rs.mu.Lock()
	if rs.batches == 0 {
		rs.idle = make(chan struct{})
	}
	rs.batches++
	rs.mu.Unlock()
	e.resuming.Add(int64(len(runs)))
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		defer e.resumeDone()
		start := time.Now()
		var wg sync.WaitGroup
		for i, info := range runs {
			if e.draining.Load() {
				e.resuming.Add(-int64(len(runs) - i))
				break
			}
			rs.slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-rs.slots }()
				defer e.resuming.Add(-1)
				e.resumeOne(fe.name, info.RunID)
			})
		}
		wg.Wait()
		e.log.Info("unfinished runs resumed", "flow", fe.name, "runs", len(runs), "took", time.Since(start).Round(time.Millisecond))
	}()
}

// resumeOne resumes runID on its flow's current definition. A definition
// replaced meanwhile (PUT /flows) would have skipped the run (its lock was
// held here): the run is suspended, and runEnded resumes it on the new one.
func (e *Engine) resumeOne(flow, runID string) {
	fe, err := e.lookup(flow)
	if err != nil {
		return
	}
	if err := e.resumeRun(e.baseCtx, fe, runID, false); err != nil && !errors.Is(err, errDriven) {
		e.log.Error("run cannot resume", "flow", flow, "run_id", runID, "error", err)
		return
	}
	if cur, err := e.lookup(flow); err == nil && cur != fe {
		lr := e.liveOf(runID)
		if lr != nil && lr.fe == fe { // driven here on the old definition
			lr.mu.Lock()
			r := lr.r
			lr.mu.Unlock()
			if r != nil {
				_ = r.Suspend()
			}
		}
	}
}

func (e *Engine) resumeDone() {
	rs := &e.rs
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.batches--
	if rs.batches == 0 {
		close(rs.idle)
	}
}

// WaitResumed waits until the unfinished runs found at Start (and at the
// registration of flows since) are resumed, or ctx ends. Start does not
// wait for them: the engine serves meanwhile.
func (e *Engine) WaitResumed(ctx context.Context) error {
	e.rs.mu.Lock()
	if e.rs.batches == 0 {
		e.rs.mu.Unlock()
		return nil
	}
	idle := e.rs.idle
	e.rs.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
