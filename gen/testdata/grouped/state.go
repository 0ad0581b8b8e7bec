package main

// GroupedState is the state of a Grouped run.
type GroupedState struct {
	// N counts the rpc steps that ran; each rollback counts down.
	N          int
	GotA, GotB bool
	// FailLast makes the last step fail for good, after every other
	// step completed.
	FailLast bool
}
