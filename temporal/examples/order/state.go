// Package order is a flow with a parallel block and a call (order.flow)
// compiled with `flowgen gen -target temporal`: the block's branches run
// as workflow goroutines, the call as a child workflow. Its tests run it
// on the SDK's test environment and on a real in-process Temporal server.
package order

import "time"

//go:generate go run -C ../../.. ./cmd/flowgen gen -target temporal temporal/examples/order/order.flow

// OrderState is an order's data; the invoice goes to Billing and comes back
// as the receipt.
type OrderState struct {
	Items         []string `json:"items"`
	Reservation   string   `json:"reservation,omitempty"`
	Authorization string   `json:"authorization,omitempty"`
	Invoice       Invoice  `json:"invoice"`
	Receipt       Invoice  `json:"receipt"`
	Shipped       bool     `json:"shipped,omitempty"`
	// Scratch is written by both branches and declared by neither: the
	// block discards it.
	Scratch string `json:"scratch,omitempty"`
}

// Invoice is the state of the billing and refund flows.
type Invoice struct {
	Amount   int    `json:"amount"`
	Charge   string `json:"charge,omitempty"`
	Paid     bool   `json:"paid,omitempty"`
	Refunded bool   `json:"refunded,omitempty"`
	// SettleAt is when Billing's Settle wakes.
	SettleAt time.Time `json:"settle_at"`
}
