// Package trip is an audit flow (trip.flow) generated for both targets:
// its tests run each script on the runtime form (NewTripFlow) and on the
// Temporal form (NewTripTemporal, a real server) and require the same
// outcome, including a worker stopped mid-run and another taking it over.
package trip

import "time"

//go:generate go run -C ../../.. ./cmd/flowgen gen -target temporal temporal/conformance/trip/trip.flow

// TripState is the data of one Trip run.
type TripState struct {
	TripID       string
	Tier         string
	Price        float64
	Rush         bool
	Layover      time.Duration
	Seat         string
	HoldID       string
	DepartAt     time.Time
	Invoice      Invoice
	Receipt      Invoice
	Confirmation Confirmation
	// Scratch is written by the Go branch and not declared: the block
	// discards it.
	Scratch string
}

// Invoice is the state of Billing and Refund.
type Invoice struct {
	Amount   int
	ChargeID string
}

// Confirmation is the payload of confirmations/confirmed: its trip.id is
// the TripID of the run it is for.
type Confirmation struct {
	Trip struct {
		ID string `json:"id"`
	} `json:"trip"`
	OK bool `json:"ok"`
}
