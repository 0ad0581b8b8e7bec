package main

// OrderState is the state of an Order run.
type OrderState struct {
	Items         []string
	Reservation   string
	Authorization string
	Card          string
	Checked       bool
	// Note is written by Authorize, which does not declare it: the block
	// discards it.
	Note string
	// FailCheck makes the Check branch fail once the two others have
	// completed; Started and Shipped say how far the run got.
	FailCheck bool
	Started   bool
	Shipped   bool
	Undone    []string
}
