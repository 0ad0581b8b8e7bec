package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

type refundState struct {
	Amount int `json:"amount"`
}

type cancelState struct {
	Refund refundState `json:"refund"`
}

// A generated flow whose call step's callee is not registered was accepted,
// and each of its runs then failed at the call ("unknown flow"), ending
// compensated: Register refuses it now, naming the step and the callee, and
// takes it once the callee is registered.
func TestRegisterRefusesAnUnregisteredCallee(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	irreversible := runtime.WithIrreversible[refundState]()
	newRefund := func(name string) *runtime.Flow[refundState] {
		f := runtime.New[refundState](name, e.RuntimeOptions()...)
		if err := f.Register(runtime.NewStep("Pay", func(_ context.Context, s *refundState) (runtime.Outcome, error) {
			return runtime.OutcomeOK, nil
		}, irreversible)); err != nil {
			t.Fatal(err)
		}
		return f
	}
	refund, undo := newRefund("Refund"), newRefund("RefundUndo")
	parent := runtime.New[cancelState]("Cancel", e.RuntimeOptions()...)
	in := func(s *cancelState) refundState { return s.Refund }
	out := func(s *cancelState) *refundState { return &s.Refund }
	if err := parent.Register(runtime.NewCall("Pay", refund, in, out,
		runtime.WithRollbackCall(undo, in))); err != nil {
		t.Fatal(err)
	}

	err = RegisterFlow(e, parent)
	// The unknown flow is named once, after the words that say so: it read
	// `engine: unknown flow: flow "Cancel": step "Pay" calls flow "Refund"`,
	// the flow being registered where the unknown one is expected.
	if want := `engine: unknown flow "Refund": step "Pay" of flow "Cancel" calls it: register the flows a flow calls first (engine.Register), as the engine runs its child runs by name`; !errors.Is(err, ErrUnknownFlow) || err.Error() != want {
		t.Fatalf("parent before its callee: got %v, want ErrUnknownFlow naming the step and the callee", err)
	}
	if err := RegisterFlow(e, refund); err != nil {
		t.Fatal(err)
	}
	err = RegisterFlow(e, parent)
	if !errors.Is(err, ErrUnknownFlow) || !strings.HasPrefix(err.Error(), `engine: unknown flow "RefundUndo": step "Pay" of flow "Cancel" rolls back with a call of it: `) {
		t.Fatalf("parent before its rollback's callee: got %v, want ErrUnknownFlow naming the rollback's callee", err)
	}
	for _, fi := range e.Flows() {
		if fi.Name == "Cancel" {
			t.Fatal("a refused flow is registered")
		}
	}
	if err := RegisterFlow(e, undo); err != nil {
		t.Fatal(err)
	}
	if err := RegisterFlow(e, parent); err != nil {
		t.Fatalf("callees registered first: %v", err)
	}
}
