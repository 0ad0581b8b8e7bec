package main

// Customer is what the customers service creates.
type Customer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Payment is the payload of payments/payment.succeeded.
type Payment struct {
	Amount        int    `json:"amount"`
	CorrelationID string `json:"correlation_id"`
}

// SignupState is the state of a Signup run.
type SignupState struct {
	Customer       Customer
	CustomerID     string
	Plan           string
	SubscriptionID string
	Payment        Payment
	Decision       string // what Review decides: "approve" or anything else
	Cancelled      bool
	Active         bool
}
