// Package runtime runs flows: steps with retries, timeouts and rollbacks, on
// a state machine per run (github.com/looplab/fsm), with every transition
// recorded as an Event. Generated code (flowgen) is built on it; it is also
// usable by hand. See docs/runtime.md for the full manual.
package runtime
