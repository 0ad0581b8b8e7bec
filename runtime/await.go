package runtime

import (
	"context"
	"fmt"
	"time"
)

// AwaitInfo describes the await that calls Subscriber.Subscribe, for
// subscribers that do more than deliver payloads: a durable engine can
// record what the run waits for, end the run's goroutine ("park" it) and
// resume the run from its history when the event comes, instead of keeping
// a goroutine per waiting run. NewAwait and NewEvent put it on the context
// they pass to Subscribe; AwaitFrom reads it.
type AwaitInfo struct {
	Flow string // the flow's ID
	Step string // the await step's ID
	// Key is the step's IdempotencyKey: the same on every attempt and after
	// Resume, so a subscriber can tie an event it hands out to this await.
	Key   string
	Topic string
	Event string
	// Correlated says that only a payload whose member at CorrelationField
	// ("" means runtime.CorrelationField) equals Correlation is taken (see
	// Correlation for the comparison).
	Correlated       bool
	CorrelationField string
	Correlation      string
	// Timeout is the wait's own (NewAwait's timeout; 0: none): once it has
	// passed, counted from when the step was entered, the step ends with
	// the outcome "timeout".
	Timeout time.Duration
	// Deadline is the step's Deadline (0: none): the budget of all its
	// attempts, counted from when the step was entered; past it the step
	// ends with the outcome "timeout" too.
	Deadline time.Duration
}

type awaitKey struct{}

// AwaitFrom returns the await a Subscribe call comes from. It is there only
// for awaits whose wait is bounded by nothing but Timeout, Deadline and the
// run's context: an await step with a per-attempt Timeout (Step.Timeout)
// does not announce itself, because only a wait that blocks its attempt
// honours that timeout.
//
// A subscriber that uses it may call the handler before Subscribe returns
// (the await takes the payload at once), or return an error instead of
// subscribing: the attempt then ends with that error, so an error wrapping
// ErrTimeout ends the step with the outcome "timeout", and a Permanent one
// is not retried.
func AwaitFrom(ctx context.Context) (AwaitInfo, bool) {
	w, ok := ctx.Value(awaitKey{}).(*AwaitInfo)
	if !ok {
		return AwaitInfo{}, false
	}
	return *w, true
}

// await waits for w's event through the run's Subscriber and returns its
// payload. w holds the topic, event, correlation, timeout and deadline;
// announce puts it, completed with the flow, step and key, on Subscribe's
// context (AwaitFrom).
func await(ctx context.Context, w *AwaitInfo, announce bool) ([]byte, error) {
	c := fromCtx(ctx)
	if c == nil || c.env.opts.sub == nil {
		return nil, Permanent(fmt.Errorf("%w: await %s %s needs a Subscriber (WithSubscriber)", ErrNotConfigured, w.Topic, w.Event))
	}
	sctx := ctx
	if announce {
		w.Flow, w.Step, w.Key = c.env.flow, c.step, IdempotencyKey(ctx)
		sctx = context.WithValue(ctx, awaitKey{}, w)
	}
	correlated, field, key := w.Correlated, w.CorrelationField, w.Correlation
	got := make(chan []byte, 1)
	cancel, err := c.env.opts.sub.Subscribe(sctx, w.Topic, w.Event, func(p []byte) bool {
		if correlated && !Correlates(p, field, key) {
			return false
		}
		select {
		case got <- p:
			return true
		default: // already have one
			return false
		}
	})
	if err != nil {
		return nil, err
	}
	defer cancel()
	select { // delivered while subscribing: no timer needed
	case p := <-got:
		return p, nil
	default:
	}
	var expired <-chan time.Time
	if w.Timeout > 0 {
		var stop func() bool
		expired, stop = timer(c.env.opts.clock, w.Timeout)
		defer stop()
	}
	select {
	case p := <-got:
		return p, nil
	case <-expired:
		select { // consumed just as time ran out: keep it rather than lose it
		case p := <-got:
			return p, nil
		default:
		}
		return nil, Permanent(fmt.Errorf("%w: no %s %s within %v", ErrTimeout, w.Topic, w.Event, w.Timeout))
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}
