package flowtemporal

import (
	"context"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// New refuses a flow with a parallel block: the workflow walks one step at
// a time and would pass the block without running its branches.
func TestNewRefusesParallelBlocks(t *testing.T) {
	type S struct{}
	noop := func(context.Context, *S) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }
	def := runtime.New[S]("Order")
	if err := def.Register(runtime.NewParallel("Prepare", []*runtime.Step[S]{runtime.NewStep("A", noop), runtime.NewStep("B", noop)})); err != nil {
		t.Fatal(err)
	}
	if _, err := New(def); err == nil || !strings.Contains(err.Error(), `step Prepare is a parallel block`) {
		t.Fatalf("New = %v, want a refusal of the block", err)
	}
}
