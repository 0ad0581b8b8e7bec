package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowgen/flowgen/runtime"
)

// Source is what ResumeAll reads: the runs that are not over and their
// histories. *Store and *Memory implement it.
type Source interface {
	NonTerminal(flow string) ([]RunInfo, error)
	Load(runID string) ([]runtime.Event, error)
}

// ResumeAll resumes every run of flow that src holds and that is not over,
// each from its history through flow.Resume: completed steps do not run
// again, the step that was running runs again with the same idempotency
// key, a rollback in progress continues, and the state comes from the last
// snapshot. The flow must emit to the same store (runtime.WithSink), so the
// resumed runs' events continue their histories.
//
// A run whose history cannot be loaded or does not fit the flow (a renamed
// or removed step) is skipped and reported; the other runs are resumed all
// the same. The error joins one error per skipped run, each naming it.
func ResumeAll[S any](ctx context.Context, flow *runtime.Flow[S], src Source) ([]*runtime.Run[S], error) {
	infos, err := src.NonTerminal(flow.ID())
	if err != nil {
		return nil, err
	}
	runs := make([]*runtime.Run[S], 0, len(infos))
	var errs []error
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		h, err := src.Load(info.RunID)
		if err != nil {
			errs = append(errs, fmt.Errorf("resume run %q: %w", info.RunID, err))
			continue
		}
		r, err := flow.Resume(ctx, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("resume run %q: %w", info.RunID, err))
			continue
		}
		runs = append(runs, r)
	}
	return runs, errors.Join(errs...)
}
