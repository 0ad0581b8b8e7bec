// Package flowtemporal runs flowgen flows on Temporal: a flow's runtime
// definition (the steps that `flowgen gen -target temporal` builds, or any
// *runtime.Flow) becomes one Temporal workflow, each step and each
// rollback one activity, the branches of a parallel block workflow
// goroutines and each call a child workflow. The semantics are the runtime's, mapped construct
// by construct in docs/temporal.md: the same routing (runtime.Flow.Route),
// the same idempotency keys, the same terminal states and the same event
// vocabulary, so a run's history and status read the same on either
// executor.
//
// It lives in its own module so that the flowgen module and its users never
// download Temporal.
package flowtemporal
