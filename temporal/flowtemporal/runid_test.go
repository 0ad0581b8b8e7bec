package flowtemporal

import (
	"context"
	"errors"
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
