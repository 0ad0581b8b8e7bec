package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// probeSub is a Subscriber that records what each Subscribe call learns
// from AwaitFrom and answers it with serve.
type probeSub struct {
	mu    sync.Mutex
	seen  []probeCall
	serve func(n int, h func([]byte) bool) error // n: 1 for the first call
}

type probeCall struct {
	Info      runtime.AwaitInfo
	Announced bool
	Attempt   int
	Key       string
}

func (p *probeSub) Subscribe(ctx context.Context, topic, event string, h func([]byte) bool) (func(), error) {
	info, ok := runtime.AwaitFrom(ctx)
	p.mu.Lock()
	p.seen = append(p.seen, probeCall{Info: info, Announced: ok, Attempt: runtime.Attempt(ctx), Key: runtime.IdempotencyKey(ctx)})
	n := len(p.seen)
	p.mu.Unlock()
	if err := p.serve(n, h); err != nil {
		return nil, err
	}
	return func() {}, nil
}

func (p *probeSub) calls() []probeCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]probeCall(nil), p.seen...)
}

type order struct {
	OrderID string `json:"order_id"`
	Paid    struct {
		Amount int `json:"amount"`
	} `json:"paid"`
	Route string `json:"route,omitempty"`
}

func orderFlow(sub runtime.Subscriber, steps ...*runtime.Step[order]) (*runtime.Flow[order], *runtime.FakeClock) {
	clock := runtime.NewFakeClock(epoch)
	f := runtime.New[order]("Orders", runtime.WithSubscriber(sub), runtime.WithClock(clock))
	if err := f.Register(steps...); err != nil {
		panic(err)
	}
	return f, clock
}

func awaitPaid(opts ...runtime.StepOption[order]) *runtime.Step[order] {
	return runtime.NewAwait("payments", "paid", func(s *order) any { return &s.Paid },
		func(s *order) string { return s.OrderID }, time.Hour,
		append([]runtime.StepOption[order]{runtime.WithID[order]("Pay")}, opts...)...)
}

// A correlated await tells its Subscriber what it waits for; a payload the
// subscriber hands over while subscribing is taken at once (the fake clock
// never moves, so nothing waited for the await's timer).
func TestAwaitFromDescribesTheAwait(t *testing.T) {
	if _, ok := runtime.AwaitFrom(context.Background()); ok {
		t.Fatal("AwaitFrom outside an await")
	}
	var inGoStep bool
	sub := &probeSub{serve: func(_ int, h func([]byte) bool) error {
		if h([]byte(`{"correlation_id":"o-2","amount":1}`)) {
			return errors.New("took another order's payment")
		}
		if !h([]byte(`{"correlation_id":"o-1","amount":7}`)) {
			return errors.New("refused its own payment")
		}
		return nil
	}}
	f, _ := orderFlow(sub,
		runtime.NewStep("Before", func(ctx context.Context, s *order) (runtime.Outcome, error) {
			_, inGoStep = runtime.AwaitFrom(ctx)
			return "", nil
		}),
		awaitPaid(runtime.WithDeadline[order](2*time.Hour)),
	)
	res, err := f.Execute(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1"))
	if err != nil || res.State.Paid.Amount != 7 {
		t.Fatalf("Execute = %+v, %v", res, err)
	}
	if inGoStep {
		t.Error("AwaitFrom inside a Go step")
	}
	want := []probeCall{{
		Info: runtime.AwaitInfo{Flow: "Orders", Step: "Pay", Key: "r1/Pay", Topic: "payments", Event: "paid",
			Correlated: true, Correlation: "o-1", Timeout: time.Hour, Deadline: 2 * time.Hour},
		Announced: true, Attempt: 1, Key: "r1/Pay",
	}}
	if diff := cmp.Diff(want, sub.calls()); diff != "" {
		t.Errorf("Subscribe calls (-want +got):\n%s", diff)
	}
}

// A Subscriber can end the attempt instead of subscribing: an error
// wrapping ErrTimeout is the outcome "timeout" (routed by Next), another
// error is retried by the step's policy, with the same key.
func TestAwaitSubscriberEndsTheAttempt(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		sub := &probeSub{serve: func(int, func([]byte) bool) error {
			return runtime.Permanent(fmt.Errorf("%w: waited long enough", runtime.ErrTimeout))
		}}
		f, _ := orderFlow(sub,
			awaitPaid(runtime.WithNext[order](runtime.OutcomeTimeout, "Expire")),
			runtime.NewStep("Expire", func(ctx context.Context, s *order) (runtime.Outcome, error) {
				s.Route = "expired"
				return "", nil
			}),
		)
		res, err := f.Execute(context.Background(), order{OrderID: "o-1"})
		if err != nil || res.State.Route != "expired" {
			t.Fatalf("Execute = %+v, %v", res, err)
		}
	})
	t.Run("retried", func(t *testing.T) {
		sub := &probeSub{serve: func(n int, h func([]byte) bool) error {
			if n == 1 {
				return errBoom
			}
			h([]byte(`{"correlation_id":"o-1","amount":3}`))
			return nil
		}}
		f, _ := orderFlow(sub, awaitPaid(runtime.WithRetry[order](runtime.RetryPolicy{Attempts: 2})))
		res, err := f.Execute(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r2"))
		if err != nil || res.State.Paid.Amount != 3 {
			t.Fatalf("Execute = %+v, %v", res, err)
		}
		calls := sub.calls()
		if len(calls) != 2 || calls[0].Info.Key != "r2/Pay" || calls[1].Info.Key != "r2/Pay" || calls[1].Attempt != 2 {
			t.Fatalf("Subscribe calls %+v", calls)
		}
	})
}

// An await whose attempts have a timeout does not announce itself (only a
// blocking wait honours that timeout); NewEvent announces an uncorrelated
// wait without a timeout of its own, in the name of the wrapped step.
func TestAwaitFromWhichAwaits(t *testing.T) {
	deliver := func(_ int, h func([]byte) bool) error {
		h([]byte(`{"correlation_id":"o-1","amount":1}`))
		return nil
	}
	sub := &probeSub{serve: deliver}
	f, _ := orderFlow(sub, awaitPaid(runtime.WithTimeout[order](time.Minute)))
	if _, err := f.Execute(context.Background(), order{OrderID: "o-1"}); err != nil {
		t.Fatal(err)
	}
	if calls := sub.calls(); len(calls) != 1 || calls[0].Announced {
		t.Fatalf("await with an attempt timeout: Subscribe calls %+v", calls)
	}

	sub = &probeSub{serve: deliver}
	var payload string
	f, _ = orderFlow(sub, runtime.NewEvent("ops", "approved", runtime.NewStep("Approve",
		func(ctx context.Context, s *order) (runtime.Outcome, error) {
			payload = string(runtime.EventPayload(ctx))
			return "", nil
		})))
	if _, err := f.Execute(context.Background(), order{}, runtime.WithRunID("r3")); err != nil {
		t.Fatal(err)
	}
	want := runtime.AwaitInfo{Flow: "Orders", Step: "Approve", Key: "r3/Approve", Topic: "ops", Event: "approved"}
	if calls := sub.calls(); len(calls) != 1 || !calls[0].Announced || calls[0].Info != want {
		t.Fatalf("NewEvent: Subscribe calls %+v, want %+v", calls, want)
	}
	if payload != `{"correlation_id":"o-1","amount":1}` {
		t.Errorf("EventPayload = %s", payload)
	}
}
