package main

// CancelState is the state of a Cancel run.
type CancelState struct {
	SubscriptionID string
	Refund         int
	RefundID       string
}

// ReconcileState is the state of a Reconcile run.
type ReconcileState struct {
	Matched bool
	Report  string
}
