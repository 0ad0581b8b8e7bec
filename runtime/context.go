package runtime

import (
	"context"
	"strconv"
	"sync"
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

	// pubs counts the action's publications in this attempt by topic and
	// event (PublicationID); a Go step may publish from goroutines of its
	// own, hence pubMu.
	pubMu sync.Mutex
	pubs  map[[2]string]int
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

// PublicationID returns the message ID of a publication of topic/event by
// the action running under ctx: its idempotency key, ">", the topic, "/"
// and the event, and "#<n>" for its n-th publication of that topic and
// event in the attempt (n > 1), in the order they are made. A step that
// runs again (a retry, a resume) publishes the same messages again, which
// their receivers apply once; one that publishes a topic and event twice
// (its publish action and a publish line, two lines) publishes two: with
// the key alone, the second was the first to its receivers, and dropped.
// It is "" outside a step.
func PublicationID(ctx context.Context, topic, event string) string {
	c := fromCtx(ctx)
	if c == nil {
		return ""
	}
	id := IdempotencyKey(ctx) + ">" + topic + "/" + event
	c.pubMu.Lock()
	if c.pubs == nil {
		c.pubs = map[[2]string]int{}
	}
	te := [2]string{topic, event}
	c.pubs[te]++
	n := c.pubs[te]
	c.pubMu.Unlock()
	if n > 1 {
		id += "#" + strconv.Itoa(n)
	}
	return id
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
