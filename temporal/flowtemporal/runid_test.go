package flowtemporal

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/runtime"
)

// Start refuses a run ID with an '@', as the runtime's Start does: run
// "o-1@Bill" of Billing would take the workflow ID of the child that run
// o-1's call Bill starts. It is refused before Temporal is asked (no
// client here).
func TestStartRefusesChildRunID(t *testing.T) {
	_, err := Start(context.Background(), nil, "Billing", invoice{}, client.StartWorkflowOptions{ID: "o-1@Bill", TaskQueue: "q"})
	if !errors.Is(err, runtime.ErrBadRunID) {
		t.Fatalf("Start with a child's run ID: %v, want runtime.ErrBadRunID", err)
	}
}

// Start refuses a workflow ID the runtime's rule of run IDs refuses
// (runtime.CheckRunID), before Temporal is asked: a line break would forge
// log lines, and the runtime's Start refuses it too.
func TestStartRefusesInvalidRunID(t *testing.T) {
	for _, id := range []string{"a\nb", "a b", strings.Repeat("r", runtime.MaxRunIDLen+1)} {
		_, err := Start(context.Background(), nil, "Billing", invoice{}, client.StartWorkflowOptions{ID: id, TaskQueue: "q"})
		if !errors.Is(err, runtime.ErrBadRunID) {
			t.Errorf("Start with run ID %q: %v, want runtime.ErrBadRunID", id, err)
		}
	}
}
