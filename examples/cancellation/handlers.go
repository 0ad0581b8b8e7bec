package main

import (
	"context"
	"fmt"

	"github.com/flowgen/flowgen/runtime"
)

// handlers implements CancelHandlers: Inspect is the only Go step.
type handlers struct {
	orders map[string]Order
}

// Inspect returns a named outcome; the flow routes each one (unpaid to
// Close, shipped to fail, paid on to Refund).
func (h handlers) Inspect(_ context.Context, s *CancelState) (CancelInspectOutcome, error) {
	o, ok := h.orders[s.OrderID]
	switch {
	case !ok:
		return "", runtime.Permanent(fmt.Errorf("no order %q", s.OrderID))
	case o.Shipped:
		return CancelInspectOutcomeShipped, nil
	case o.Paid:
		return CancelInspectOutcomePaid, nil
	}
	return CancelInspectOutcomeUnpaid, nil
}
