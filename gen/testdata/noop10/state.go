package main

// NoopState is the state of a Noop run.
type NoopState struct {
	Count int
}
