package main

// Customer is the request of customers/Customer.Create.
type Customer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Payment is the payload of payments/payment.succeeded. The runtime takes
// only the payment whose correlation_id is the run's CustomerID.
type Payment struct {
	CustomerID string `json:"correlation_id"`
	Cents      int    `json:"cents"`
}

// SignupState is the data of one Signup run. The flow reads and writes the
// fields it names (Customer, CustomerID, Plan, SubscriptionID, Payment);
// the Go steps use the rest.
type SignupState struct {
	Customer       Customer
	CustomerID     string
	Plan           string
	SubscriptionID string
	Payment        Payment
	Active         bool
}
