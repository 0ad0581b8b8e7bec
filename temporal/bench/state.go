// Package bench measures flows generated for Temporal against a
// hand-written Temporal workflow of the same shape on the same server
// (docs/benchmarks.md).
package bench

//go:generate go run -C ../.. ./cmd/flowgen gen -target temporal -nopkg temporal/bench/five.flow

// FiveState is the state of Five: each step adds one to N.
type FiveState struct {
	N int `json:"n"`
}
