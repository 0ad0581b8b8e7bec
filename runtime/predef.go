package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowgen/flowgen/internal/option"
)

// NewRPC returns a step that calls service/endpoint through the run's Caller
// (WithCaller). request builds the request from the state (nil sends null);
// WithResponse says where the response goes. The step ID defaults to
// endpoint.
func NewRPC[S any](service, endpoint string, request func(s *S) any, opts ...StepOption[S]) *Step[S] {
	st := &Step[S]{ID: endpoint, needs: needCaller}
	option.Apply(st, opts)
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
	st := &Step[S]{ID: event, needs: needPublisher}
	option.Apply(st, opts)
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

// NewAwait returns a step that waits for an event of topic/event and
// decodes its payload into into(state) (nil: discard). With correlate, only
// a payload whose member at the correlation field (WithCorrelationField;
// CorrelationField by default) equals correlate(state) is taken. After
// timeout (0: none), counted from when the step is entered and recorded
// then, the step ends with the outcome "timeout", which Next can route.
// While it waits the run holds no goroutine (see Step.Await). The step ID
// defaults to event.
func NewAwait[S any](topic, event string, into func(s *S) any, correlate func(s *S) string, timeout time.Duration, opts ...StepOption[S]) *Step[S] {
	st := &Step[S]{ID: event, Await: &Await[S]{Topic: topic, Event: event, Correlate: correlate, Timeout: timeout}}
	option.Apply(st, opts)
	st.Await.Field = st.correlationField
	if into != nil {
		st.Exec = func(ctx context.Context, s *S) (Outcome, error) {
			if err := json.Unmarshal(EventPayload(ctx), into(s)); err != nil {
				return "", Permanent(fmt.Errorf("decoding %s %s: %w", topic, event, err))
			}
			return OutcomeOK, nil
		}
	}
	return st
}

// NewEvent returns step (a Go step, or nil for one that only waits) made to
// wait first for an event of topic/event: step's Exec runs once the event
// came, with its raw payload available as EventPayload(ctx). ID, rollback
// and policies are step's. A nil step's ID is event.
func NewEvent[S any](topic, event string, step *Step[S]) *Step[S] {
	var st Step[S]
	if step != nil {
		st = *step
	} else {
		st.ID = event
	}
	st.Await = &Await[S]{Topic: topic, Event: event}
	return &st
}

// NewSleep returns a step that waits d, counted from when it is entered,
// then runs exec (nil: nothing). The wake-up time is recorded, so a run
// resumed after a restart wakes when it would have.
func NewSleep[S any](id string, d time.Duration, exec func(ctx context.Context, s *S) (Outcome, error), opts ...StepOption[S]) *Step[S] {
	st := NewStep(id, exec, opts...)
	st.Sleep = &Sleep[S]{For: d}
	return st
}

// NewSleepUntil returns a step that waits until the time until(state) (read
// when the step is entered), then runs exec (nil: nothing). A time in the
// past wakes it at once; the zero time, a time that was never set, or a
// time no history can record (RecordableTime), ends the step with the
// outcome "error" (Step.SleepError; set Sleep.Field to name the field).
func NewSleepUntil[S any](id string, until func(s *S) time.Time, exec func(ctx context.Context, s *S) (Outcome, error), opts ...StepOption[S]) *Step[S] {
	st := NewStep(id, exec, opts...)
	st.Sleep = &Sleep[S]{Until: until}
	return st
}
