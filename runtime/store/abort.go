package store

// Abort requests. A run aborted while its flow's sink is the store
// (runtime.Run.Abort: the store is a runtime.AbortRecorder), or an engine
// that accepts an abort before it answers, records the request here first,
// so that the abort survives a crash that comes before the run has
// recorded it (a run records "-> aborting" only once its step in flight
// returns, or the child of the call it waits for has ended): at its next
// resume (runtime.Flow.Resume) the run is resumed aborted. The run's own
// events cannot carry the request, as only the run appends to its history,
// one event at a time.
//
// A request stays pending until its run is over (a terminal run state);
// then it is forgotten, and a compaction drops its records. A run has one
// pending request at most: asking again while one is pending writes
// nothing. Two callers racing may write a record each; both stand for the
// same request.
//
// Record (kind 7):
//
//	kind     byte (7)
//	run      uvarint length + bytes (the run ID)

import (
	"context"
	"fmt"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store/internal/wal"
)

// aborts is what both stores keep of the abort requests.
type aborts struct {
	pending map[string]int // run ID -> records of its pending request
	// stale counts the records of requests whose runs are over or gone,
	// which a compaction drops from the log.
	stale int
}

func newAborts() aborts { return aborts{pending: map[string]int{}} }

func encodeAbort(b []byte, runID string) []byte {
	return appendString(append(b, kindAbort), runID)
}

// decodeAbort returns the run ID of an abort request record.
func decodeAbort(p []byte) (string, error) {
	if len(p) == 0 {
		return "", errShort
	}
	if p[0] != kindAbort {
		return "", fmt.Errorf("record of kind %d is not an abort request", p[0])
	}
	d := decoder{b: p[1:]}
	id := d.string()
	if err := d.end("abort request"); err != nil {
		return "", err
	}
	if id == "" {
		return "", fmt.Errorf("%w: abort request without a run ID", ErrInvalidEvent)
	}
	return id, nil
}

// checkAbort reports whether runID may be asked to abort: an error if the
// run is unknown or over, noop if a request is pending already.
func (x *index) checkAbort(runID string) (noop bool, err error) {
	i, ok := x.runs[runID]
	if !ok {
		return false, fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
	}
	if st := x.infos[i].State; st.Terminal() {
		return false, fmt.Errorf("%w: %q is %s", runtime.ErrFinished, runID, st)
	}
	return x.aborts.pending[runID] > 0, nil
}

// applyAbort records a request written to the log. A request whose run
// ended (or left the index) meanwhile, or a record read at open for such a
// run, is stale: nothing to abort.
func (x *index) applyAbort(runID string) {
	if i, ok := x.runs[runID]; !ok || x.infos[i].State.Terminal() {
		x.aborts.stale++
		return
	}
	x.aborts.pending[runID]++
}

// endAborts forgets the request of runID, which is over.
func (x *index) endAborts(runID string) {
	if n, ok := x.aborts.pending[runID]; ok {
		x.aborts.stale += n
		delete(x.aborts.pending, runID)
	}
}

// keepAbort reports whether a compaction keeps a request record of runID:
// only while the run is in the index and not over. A run never comes back
// from a terminal state, so a record dropped is never needed again.
func (x *index) keepAbort(runID string) bool {
	i, ok := x.runs[runID]
	return ok && !x.infos[i].State.Terminal()
}

// RequestAbort records, durably, that runID is to be aborted: it returns
// once the request is written and synced, and until the run is over every
// resume of it (AbortRequested) resumes it aborted. It fails with
// runtime.ErrUnknownRun for a run the store does not know and
// runtime.ErrFinished for one that is over, writing nothing; a request
// pending already is not written again.
func (s *Store) RequestAbort(ctx context.Context, runID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	noop, err := s.idx.checkAbort(runID)
	s.mu.RUnlock()
	if noop || err != nil {
		return err
	}
	s.appendMu.RLock()
	defer s.appendMu.RUnlock()
	_, err = s.log.AppendApply(encodeAbort(nil, runID), abortApply{s, runID})
	return err
}

// abortApply applies an abort request to the index as the log makes it
// durable (wal.Applier), in the log's order like every record: the order
// a restart replays it in, among the run's events.
type abortApply struct {
	s     *Store
	runID string
}

func (a abortApply) Applied(int, wal.Pos) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.idx.applyAbort(a.runID)
	a.s.records++
}

// AbortRequested reports whether runID has a pending abort request: it is
// not over, and RequestAbort was called for it (in this process or before
// a restart).
func (s *Store) AbortRequested(runID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.idx.aborts.pending[runID] > 0
}

// RequestAbort is Store.RequestAbort, in memory.
func (m *Memory) RequestAbort(ctx context.Context, runID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	noop, err := m.idx.checkAbort(runID)
	if noop || err != nil {
		return err
	}
	m.idx.applyAbort(runID)
	return nil
}

// AbortRequested is Store.AbortRequested, in memory.
func (m *Memory) AbortRequested(runID string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.idx.aborts.pending[runID] > 0
}
