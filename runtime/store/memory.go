package store

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/flowgen/flowgen/runtime"
)

// Memory is the store's API kept in memory, for tests: the same sequence
// checks, listing and resume as Store, nothing durable.
type Memory struct {
	inboxOps // PutMessage, ClaimMessage, ...: the inbox (inbox.go)
	mu       sync.RWMutex
	idx      index
	events   [][]runtime.Event
	inbox    inboxIndex
}

var _ runtime.Sink = (*Memory)(nil)
var _ runtime.HistoryLoader = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	m := &Memory{idx: newIndex(), inbox: newInboxIndex(true)}
	m.inboxOps = inboxOps{m}
	return m
}

// Emit implements runtime.Sink.
func (m *Memory) Emit(ctx context.Context, e runtime.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i, st, err := m.idx.check(&e)
	if err != nil {
		return err
	}
	i = m.idx.add(i, st, &e)
	if i == len(m.events) {
		m.events = append(m.events, nil)
	}
	m.events[i] = append(m.events[i], e)
	return nil
}

// Load returns a copy of runID's history.
func (m *Memory) Load(runID string) ([]runtime.Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.idx.runs[runID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
	}
	return slices.Clone(m.events[i]), nil
}

// LoadHistory implements runtime.HistoryLoader.
func (m *Memory) LoadHistory(_ context.Context, runID string) ([]runtime.Event, error) {
	return m.Load(runID)
}

// HistoryLen implements runtime.HistoryCounter.
func (m *Memory) HistoryLen(_ context.Context, runID string) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.idx.runs[runID]
	if !ok {
		return 0, fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
	}
	return len(m.events[i]), nil
}

// Get returns what is known of runID.
func (m *Memory) Get(runID string) (RunInfo, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.idx.get(runID)
}

// List returns the runs f selects, in the order of their first event.
func (m *Memory) List(f Filter) ([]RunInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.idx.list(f)
}

// NonTerminal returns the runs of flow (every flow if "") that are not over.
func (m *Memory) NonTerminal(flow string) ([]RunInfo, error) {
	return m.List(Filter{Flow: flow, NonTerminal: true})
}

// RunIDs implements runtime.RunLister, as Store.RunIDs does.
func (m *Memory) RunIDs(_ context.Context, flow string, states ...runtime.RunState) ([]string, error) {
	if err := runtime.CheckListedFlow(flow); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.idx.runIDs(flow, states), nil
}
