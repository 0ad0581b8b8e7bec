package main

// Order is what the orders service knows about an order.
type Order struct {
	ID      string
	Paid    bool
	Shipped bool
}

// Settlement is the payload of payments/refund.settled; the runtime takes
// only the one whose correlation_id is the run's RefundID.
type Settlement struct {
	RefundID string `json:"correlation_id"`
	Cents    int    `json:"cents"`
}

// CancelState is the data of one Cancel run.
type CancelState struct {
	OrderID    string
	RefundID   string
	Settlement Settlement
}
