package order

import (
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// On Temporal a call runs a child workflow, which the cluster keeps: the
// runtime's refusal of a callee whose sink loads no histories (a child a
// resumed parent could not find) does not apply. A worker that hands its
// sink to the parent alone, to watch its transitions, builds the flows.
func TestTemporalParentSinkAloneIsNotRefused(t *testing.T) {
	w := &world{}
	b, err := NewBillingTemporal(billing{w})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRefundTemporal(refunds{w})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewOrderTemporal(orders{w}, b, r, runtime.WithSink(runtime.NewMemorySink())); err != nil {
		t.Fatalf("NewOrderTemporal with a sink the callees do not have: %v", err)
	}
}
