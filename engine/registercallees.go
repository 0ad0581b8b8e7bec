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
					// "engine: unknown flow "Refund": step ..." names the
					// unknown flow once, right after the words, and
					// the flow being registered as the step's.
					return fmt.Errorf("%w %q: step %q of flow %q %s it: register the flows a flow calls first (engine.Register), as the engine runs its child runs by name", ErrUnknownFlow, c.call.Flow, s.ID, f.ID(), c.what)
				}
			}
		}
	}
	return nil
}
