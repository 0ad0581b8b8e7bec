package store

import (
	"context"
	"slices"

	"github.com/flowgen/flowgen/runtime"
)

// Source is what ResumeAll reads: the runs that are not over and their
// histories. *Store and *Memory implement it.
type Source interface {
	NonTerminal(flow string) ([]RunInfo, error)
	Load(runID string) ([]runtime.Event, error)
}

// Store and Memory list runs for runtime.Flow.ResumeAll and for the
// ResumeAll and Runs methods of generated code, which import only runtime.
var (
	_ runtime.RunLister = (*Store)(nil)
	_ runtime.RunLister = (*Memory)(nil)
)

// Store and Memory keep abort requests (abort.go) for runtime.Run.Abort and
// runtime.Flow.Resume as for an engine: a flow whose sink is one records
// each abort before it acts on it.
var (
	_ runtime.AbortRecorder = (*Store)(nil)
	_ runtime.AbortRecorder = (*Memory)(nil)
)

// ResumeAll resumes every run of flow that src holds and that is not over,
// each from its history through flow.Resume: completed steps do not run
// again, the step that was running runs again with the same idempotency
// key, a rollback in progress continues, and the state comes from the last
// snapshot. The flow must emit to the same store (runtime.WithSink), so the
// resumed runs' events continue their histories: a flow whose sink does
// not hold them resumes none (runtime.ErrNotConfigured). With a *Store or *Memory
// it is flow.ResumeAll(ctx, src) (runtime.Flow.ResumeAll).
//
// A run whose history cannot be loaded or does not fit the flow (a renamed
// or removed step) is skipped and reported; the other runs are resumed all
// the same. The error joins one error per skipped run, each naming it.
func ResumeAll[S any](ctx context.Context, flow *runtime.Flow[S], src Source) ([]*runtime.Run[S], error) {
	if l, ok := src.(runtime.RunLister); ok {
		return flow.ResumeAll(ctx, l)
	}
	return flow.ResumeAll(ctx, sourceLister{src})
}

// sourceLister is a Source seen as a runtime.RunLister, for ResumeAll: it
// lists only the runs that are not over, which is all ResumeAll asks for.
type sourceLister struct{ src Source }

func (l sourceLister) RunIDs(_ context.Context, flow string, states ...runtime.RunState) ([]string, error) {
	if err := runtime.CheckListedFlow(flow); err != nil {
		return nil, err
	}
	infos, err := l.src.NonTerminal(flow)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, info := range infos {
		if len(states) == 0 || slices.Contains(states, info.State) {
			ids = append(ids, info.RunID)
		}
	}
	return ids, nil
}

func (l sourceLister) LoadHistory(_ context.Context, runID string) ([]runtime.Event, error) {
	return l.src.Load(runID)
}
