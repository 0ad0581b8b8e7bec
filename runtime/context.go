package runtime

import (
	"context"
)

// ctxKey finds the *stepCtx of the action running under a context.
type ctxKey struct{}

// runEnv is what every step of a run shares: IDs and the flow's options.
type runEnv struct {
	runID string
	flow  string
	opts  *options
}

// stepCtx is the context an action runs under. It is a context type of its
// own rather than context.WithValue so that a run can allocate one per step
// up front instead of one per attempt.
type stepCtx struct {
	context.Context
	env      *runEnv
	step     string
	visit    int32 // 1 for the first execution of the step in this run
	attempt  int32
	rollback bool
	payload  []byte // the event that woke the step, if it waited for one
}

func (c *stepCtx) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return c
	}
	return c.Context.Value(key)
}

func fromCtx(ctx context.Context) *stepCtx {
	c, _ := ctx.Value(ctxKey{}).(*stepCtx)
	return c
}

// IdempotencyKey returns the key of the action running under ctx:
// "<runID>/<stepID>", with "#<n>" appended for the n-th execution (n > 1) of
// a step a flow loops back to, and "/rollback" appended for its rollback. It
// is the same for every attempt and after Resume, so services can drop
// duplicate requests. It is "" outside a step.
func IdempotencyKey(ctx context.Context) string {
	c := fromCtx(ctx)
	if c == nil {
		return ""
	}
	return Key{RunID: c.env.runID, Step: c.step, Visit: int(c.visit), Rollback: c.rollback}.String()
}

// Attempt returns the 1-based attempt number of the action running under ctx
// (0 outside a step). Attempts count across Resume.
func Attempt(ctx context.Context) int {
	if c := fromCtx(ctx); c != nil {
		return int(c.attempt)
	}
	return 0
}

// RunID returns the ID of the run whose step runs under ctx ("" outside).
func RunID(ctx context.Context) string {
	if c := fromCtx(ctx); c != nil {
		return c.env.runID
	}
	return ""
}

// EventPayload returns the raw payload of the event the step running under
// ctx waited for (Step.Await, NewAwait, NewEvent), or nil.
func EventPayload(ctx context.Context) []byte {
	if c := fromCtx(ctx); c != nil {
		return c.payload
	}
	return nil
}
