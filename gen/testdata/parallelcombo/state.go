package main

// FulfilState is the state of a Fulfil run.
type FulfilState struct {
	Express     bool
	Items       []string
	Reservation string
	Invoice     Invoice
	Payment     string
	// Slow makes Authorize wait until its deadline cuts it short.
	Slow bool
}

// Invoice is the state of a Billing run.
type Invoice struct {
	Amount  int
	Receipt string
}
