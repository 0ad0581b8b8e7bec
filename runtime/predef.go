package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// NewRPC returns a step that calls service/endpoint through the run's Caller
// (WithCaller). request builds the request from the state (nil sends null);
// WithResponse says where the response goes. The step ID defaults to
// endpoint.
func NewRPC[S any](service, endpoint string, request func(s *S) any, opts ...StepOption[S]) *Step[S] {
	st := &Step[S]{ID: endpoint}
	for _, o := range opts {
		o(st)
	}
	response := st.response
	st.Exec = func(ctx context.Context, s *S) (Outcome, error) {
		c := fromCtx(ctx)
		if c == nil || c.env.opts.caller == nil {
			return "", Permanent(fmt.Errorf("%w: rpc %s %s needs a Caller (WithCaller)", ErrNotConfigured, service, endpoint))
		}
		var req, rsp any
		if request != nil {
			req = request(s)
		}
		if response != nil {
			rsp = response(s)
		}
		return OutcomeOK, c.env.opts.caller.Call(ctx, service, endpoint, req, rsp)
	}
	return st
}

// NewPublish returns a step that publishes one event through the run's
// Publisher (WithPublisher). The step ID defaults to event.
func NewPublish[S any](topic, event string, payload func(s *S) any, opts ...StepOption[S]) *Step[S] {
	st := &Step[S]{ID: event}
	for _, o := range opts {
		o(st)
	}
	st.Exec = func(ctx context.Context, s *S) (Outcome, error) {
		c := fromCtx(ctx)
		if c == nil || c.env.opts.pub == nil {
			return "", Permanent(fmt.Errorf("%w: publish %s %s needs a Publisher (WithPublisher)", ErrNotConfigured, topic, event))
		}
		var p any
		if payload != nil {
			p = payload(s)
		}
		return OutcomeOK, c.env.opts.pub.Publish(ctx, topic, event, p)
	}
	return st
}

// NewAwait returns a step that waits for an event through the run's
// Subscriber (WithSubscriber) and decodes its JSON payload into into(state)
// (nil: discard). With correlate, only a payload whose member at the
// correlation field (WithCorrelationField; CorrelationField by default)
// equals correlate(state) is taken. After timeout (0: none) the step ends
// with the outcome "timeout", which Next can route; the wait is not retried.
// The step ID defaults to event. Subscribe gets an AwaitInfo on its
// context (AwaitFrom) unless the step has a per-attempt Timeout.
func NewAwait[S any](topic, event string, into func(s *S) any, correlate func(s *S) string, timeout time.Duration, opts ...StepOption[S]) *Step[S] {
	st := &Step[S]{ID: event}
	for _, o := range opts {
		o(st)
	}
	st.Exec = func(ctx context.Context, s *S) (Outcome, error) {
		w := AwaitInfo{Topic: topic, Event: event, Timeout: timeout, Deadline: st.Deadline}
		if correlate != nil {
			w.Correlated, w.CorrelationField, w.Correlation = true, st.correlationField, correlate(s)
		}
		p, err := await(ctx, &w, st.Timeout == 0)
		if err != nil {
			return "", err
		}
		if into != nil {
			if err := json.Unmarshal(p, into(s)); err != nil {
				return "", Permanent(fmt.Errorf("decoding %s %s: %w", topic, event, err))
			}
		}
		return OutcomeOK, nil
	}
	return st
}

// NewEvent returns step wrapped so that it first waits for topic/event
// through the run's Subscriber, then runs step.Exec (if any) with the payload
// available as EventPayload(ctx). ID, rollback and policies are step's. A nil
// step gives a step named event that only waits. Subscribe gets an
// AwaitInfo (uncorrelated, no Timeout) unless the step has a per-attempt
// Timeout.
func NewEvent[S any](topic, event string, step *Step[S]) *Step[S] {
	var st Step[S]
	if step != nil {
		st = *step
	} else {
		st.ID = event
	}
	inner := st.Exec
	st.Exec = func(ctx context.Context, s *S) (Outcome, error) {
		w := AwaitInfo{Topic: topic, Event: event, Deadline: st.Deadline}
		p, err := await(ctx, &w, st.Timeout == 0)
		if err != nil {
			return "", err
		}
		if inner == nil {
			return OutcomeOK, nil
		}
		return inner(context.WithValue(ctx, payloadKey{}, p), s)
	}
	return &st
}
