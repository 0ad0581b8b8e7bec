package runtime

import (
	"errors"
	"fmt"
)

// historyKeeper is a ChildRuns that can say whether it finds its runs again
// after a restart: a *Flow, whose sink loads histories or not. An engine's
// ChildRuns (NewCallBy) keeps its runs in its own store and does not say.
type historyKeeper interface {
	loadsHistories() bool
}

func (f *Flow[S]) loadsHistories() bool { return f.opts.loader != nil }

// checkCallSinks refuses a call, or a rollback call, of a flow whose sink
// does not load histories from a flow whose sink does (and that runs its
// children itself, not through WithChildren). Such a parent resumes after a
// restart still waiting for its child, but the child flow cannot find the
// child's history: it would start the child again under the same ID, its
// completed steps run a second time, or a child that had ended would run
// again. The callee must be built with the parent's sink (generated code:
// the same options).
func (f *Flow[S]) checkCallSinks(steps []*Step[S]) error {
	if f.opts.loader == nil || f.opts.children != nil {
		return nil
	}
	var errs []error
	check := func(st *Step[S], c *FlowCall[S], what string) {
		if c == nil {
			return
		}
		if k, ok := c.Runs.(historyKeeper); ok && !k.loadsHistories() {
			errs = append(errs, fmt.Errorf("%w: flow %q: step %s %s flow %q, whose sink does not load histories while this flow's does: "+
				"after a restart the child could not be found and would run again; build flow %q with this flow's sink (WithSink)",
				ErrNotConfigured, f.id, st.ID, what, c.Flow, c.Flow))
		}
	}
	for _, st := range steps {
		check(st, st.Call, "calls")
		check(st, st.rollbackCall, "rolls back with a call of")
	}
	return errors.Join(errs...)
}
