// Package signup is the signup example of examples/signup compiled with
// `flowgen gen -target temporal`: the same .flow file and the same
// handlers, run as a Temporal workflow. Its tests prove each construct's
// mapping (docs/temporal.md) on the SDK's test environment and on a real
// in-process Temporal server.
package signup

//go:generate go run -C ../../.. ./cmd/flowgen gen -target temporal temporal/examples/signup/signup.flow
//go:generate go run -C ../../.. ./cmd/flowgen gen -target temporal temporal/examples/signup/review.flow

import "time"

// Customer is the request of customers/Customer.Create.
type Customer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Payment is the payload of payments/payment.succeeded. A run takes only
// the payment whose correlation_id is its CustomerID.
type Payment struct {
	CustomerID string `json:"correlation_id"`
	Cents      int    `json:"cents"`
}

// SignupState is the data of one Signup run.
type SignupState struct {
	Customer       Customer
	CustomerID     string
	Plan           string
	SubscriptionID string
	Payment        Payment
	Active         bool
}

// ReviewState is the data of one Review run.
type ReviewState struct {
	Verdict  string
	Reserved bool
	WakeAt   time.Time
	Notes    []string
}
