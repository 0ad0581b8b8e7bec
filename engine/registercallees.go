package engine

import (
	"fmt"

	"github.com/flowgen/flowgen/runtime"
)

// calleesRegistered refuses a flow registered from Go whose call steps or
// rollback calls name a flow the engine does not define. The engine runs
// every child run as its own, by the callee's name (WithChildren is among
// RuntimeOptions), whatever definition the generated constructor was given:
// registered without its callees, such a flow would start, and each of its
// runs would fail at the call with the flow unknown. As a JSON document's
// calls (call-flow), a callee is registered first; a flow is never removed,
// so it stays. A flow calling itself names the flow being registered.
func calleesRegistered[S any](e *Engine, f *runtime.Flow[S]) error {
	for _, st := range f.Steps() {
		for _, s := range append([]*runtime.Step[S]{st}, st.Branches...) {
			for _, c := range []struct {
				call *runtime.FlowCall[S]
				what string
			}{{s.Call, "calls"}, {s.RollbackCall(), "rolls back with a call of"}} {
				if c.call == nil || c.call.Flow == "" || c.call.Flow == f.ID() {
					continue
				}
				if _, err := e.lookup(c.call.Flow); err != nil {
					return fmt.Errorf("%w: flow %q: step %q %s flow %q, which the engine does not define: register the flows it calls first (engine.Register): the engine runs its child runs by name", ErrUnknownFlow, f.ID(), s.ID, c.what, c.call.Flow)
				}
			}
		}
	}
	return nil
}
