package runtime

import (
	"context"
	"fmt"
)

// RPCRollback returns a rollback (Step.Rollback, WithRollback) that calls
// service/endpoint through the run's Caller (WithCaller), as a .flow
// `rollback rpc` line does. request builds the request from the state (nil
// sends null); response says where the response goes (nil discards it).
// The call's context carries the rollback's idempotency key
// ("<run>/<step>/rollback"). Without a Caller the rollback fails with a
// permanent error wrapping ErrNotConfigured.
func RPCRollback[S any](service, endpoint string, request, response func(s *S) any) func(ctx context.Context, s *S) error {
	return func(ctx context.Context, s *S) error {
		c := fromCtx(ctx)
		if c == nil || c.env.opts.caller == nil {
			return Permanent(fmt.Errorf("%w: rollback rpc %s %s needs a Caller (WithCaller)", ErrNotConfigured, service, endpoint))
		}
		var req, rsp any
		if request != nil {
			req = request(s)
		}
		if response != nil {
			rsp = response(s)
		}
		return c.env.opts.caller.Call(ctx, service, endpoint, req, rsp)
	}
}

// WithRPCRollback sets the step's rollback to an RPC (RPCRollback), so that
// the flow knows the step needs a Caller.
func WithRPCRollback[S any](service, endpoint string, request, response func(s *S) any) StepOption[S] {
	return func(s *Step[S]) {
		s.Rollback = RPCRollback(service, endpoint, request, response)
		s.needs |= needCaller
	}
}
