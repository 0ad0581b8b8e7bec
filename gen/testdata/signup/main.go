// Command signup runs the generated Signup flow against in-memory services
// and exits 1 when a run takes a transition it should not.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

func (handlers) CancelSubscription(_ context.Context, s *SignupState) error {
	s.Cancelled = true
	return nil
}

func (handlers) Review(_ context.Context, s *SignupState) (SignupReviewOutcome, error) {
	if s.Decision == "approve" {
		return SignupReviewOutcomeApproved, nil
	}
	return SignupReviewOutcomeRejected, nil
}

func (handlers) Activate(_ context.Context, s *SignupState) error {
	s.Active = true
	return nil
}

func (handlers) Deactivate(_ context.Context, s *SignupState) error {
	s.Active = false
	return nil
}

func (handlers) ExpireTrial(context.Context, *SignupState) error { return nil }

// services are the fakes of the run's services. The customers service is
// a typed port implemented in Go (services itself: CustomerCreate takes a
// Customer and returns its ID, no JSON); subscriptions goes through the
// generated Caller adapter over a MemoryCaller, as an HTTP or NATS Caller
// would.
type services struct {
	caller  *runtime.MemoryCaller
	bus     *runtime.MemoryBus
	sink    *runtime.MemorySink
	created int
	deleted []string
	keys    []string // the idempotency keys the customers port saw
}

func newServices() *services {
	sv := &services{caller: runtime.NewMemoryCaller(), bus: runtime.NewMemoryBus(), sink: runtime.NewMemorySink()}
	sv.caller.Handle("subscriptions", "Subscription.Create", runtime.HandleFunc(func(_ context.Context, plan string) (string, error) {
		return "sub-" + plan, nil
	}))
	return sv
}

// CustomerCreate implements SignupCustomers.
func (sv *services) CustomerCreate(ctx context.Context, c Customer) (string, error) {
	sv.keys = append(sv.keys, runtime.IdempotencyKey(ctx))
	sv.created++
	return "cus-" + c.Name, nil
}

// CustomerDelete implements SignupCustomers.
func (sv *services) CustomerDelete(ctx context.Context, id string) error {
	sv.keys = append(sv.keys, runtime.IdempotencyKey(ctx))
	sv.deleted = append(sv.deleted, id)
	return nil
}

func (sv *services) flow(opts ...runtime.Option) *SignupFlow {
	ports := SignupServices{Customers: sv, Subscriptions: SignupSubscriptionsCaller{Caller: sv.caller}}
	f, err := NewSignupFlow(handlers{}, ports, append([]runtime.Option{
		runtime.WithPublisher(sv.bus), runtime.WithSubscriber(sv.bus), runtime.WithSink(sv.sink),
	}, opts...)...)
	if err != nil {
		check.Fatalf("NewSignupFlow: %v", err)
	}
	return f
}

func (sv *services) pay(customerID string) {
	if err := sv.bus.Publish(context.Background(), "payments", "payment.succeeded", Payment{Amount: 10, CorrelationID: customerID}); err != nil {
		check.Fatalf("publish: %v", err)
	}
}

var start = []string{
	"pending -> CreateCustomer:running",
	"CreateCustomer:running -> CreateSubscription:running [ok]",
	"CreateSubscription:running -> AwaitPayment:waiting [ok]",
}

var undo = []string{
	"failing -> CreateSubscription:rollback",
	"CreateSubscription:rollback -> failing [ok]",
	"failing -> CreateCustomer:rollback",
	"CreateCustomer:rollback -> failing [ok]",
	"failing -> compensated",
}

func main() {
	ctx := context.Background()
	initial := SignupState{Customer: Customer{Name: "ada", Email: "ada@example.com"}, Plan: "pro"}

	// The constructor refuses a flow without the parts its steps need,
	// naming them, before any run charges anyone: a port, a Subscriber.
	_, err := NewSignupFlow(handlers{}, SignupServices{Customers: newServices()}, runtime.WithPublisher(runtime.NewMemoryBus()))
	check.Equal("missing port: ErrNotConfigured", errors.Is(err, runtime.ErrNotConfigured), true)
	check.Equal("missing port: error", fmt.Sprint(err), `runtime: not configured: flow "Signup": SignupServices.Subscriptions is nil: every service the flow calls needs a port (SignupServicesFromCaller builds them all from a runtime.Caller)`)
	// The adapter over no Caller: each call would fail, after the steps
	// before it (the constructor took it).
	_, err = NewSignupFlow(handlers{}, SignupServices{Customers: newServices(), Subscriptions: SignupSubscriptionsCaller{}}, runtime.WithPublisher(runtime.NewMemoryBus()), runtime.WithSubscriber(runtime.NewMemoryBus()))
	check.Equal("adapter without a Caller: error", fmt.Sprint(err), `runtime: not configured: flow "Signup": SignupServices.Subscriptions is a port adapter, SignupSubscriptionsCaller, over a nil Caller: give it the runtime.Caller that reaches the service, or a port of your own`)
	// The same through a pointer: the adapter's methods have value
	// receivers, so a pointer to it is a port too.
	_, err = NewSignupFlow(handlers{}, SignupServices{Customers: newServices(), Subscriptions: &SignupSubscriptionsCaller{}}, runtime.WithPublisher(runtime.NewMemoryBus()), runtime.WithSubscriber(runtime.NewMemoryBus()))
	check.Equal("adapter pointer without a Caller: error", fmt.Sprint(err), `runtime: not configured: flow "Signup": SignupServices.Subscriptions is a port adapter, SignupSubscriptionsCaller, over a nil Caller: give it the runtime.Caller that reaches the service, or a port of your own`)
	_, err = NewSignupFlow(handlers{}, SignupServices{Customers: newServices(), Subscriptions: (*SignupSubscriptionsCaller)(nil)}, runtime.WithPublisher(runtime.NewMemoryBus()), runtime.WithSubscriber(runtime.NewMemoryBus()))
	check.Equal("nil adapter pointer: error", fmt.Sprint(err), `runtime: not configured: flow "Signup": SignupServices.Subscriptions is a port adapter, SignupSubscriptionsCaller, over a nil Caller: give it the runtime.Caller that reaches the service, or a port of your own`)
	// A nil Caller (an engine without one) gives adapters over none: the
	// error says that the Caller is missing, not that the port is, which
	// the caller did build with SignupServicesFromCaller.
	_, err = NewSignupFlow(handlers{}, SignupServicesFromCaller(nil), runtime.WithPublisher(runtime.NewMemoryBus()))
	check.Equal("nil Caller: error", fmt.Sprint(err), `runtime: not configured: flow "Signup": SignupServices.Customers is a port adapter, SignupCustomersCaller, over a nil Caller: give it the runtime.Caller that reaches the service, or a port of your own`)
	// Nil handlers would make the first Go step panic after the rpc steps
	// before it had created the customer and the subscription.
	_, err = NewSignupFlow(nil, SignupServicesFromCaller(runtime.NewMemoryCaller()), runtime.WithPublisher(runtime.NewMemoryBus()), runtime.WithSubscriber(runtime.NewMemoryBus()))
	check.Equal("nil handlers: ErrNotConfigured", errors.Is(err, runtime.ErrNotConfigured), true)
	check.Equal("nil handlers: error", fmt.Sprint(err), `runtime: not configured: flow "Signup": its SignupHandlers are nil: its Go steps and Go rollbacks are their methods`)
	// A nil pointer in the interface (a variable declared and never set)
	// is nil too (runtime.IsNil): == nil let it through, and the run
	// panicked, or its call failed, at the step that used it.
	var noHandlers *handlers
	_, err = NewSignupFlow(noHandlers, SignupServicesFromCaller(runtime.NewMemoryCaller()), runtime.WithPublisher(runtime.NewMemoryBus()), runtime.WithSubscriber(runtime.NewMemoryBus()))
	check.Equal("nil handlers pointer: error", fmt.Sprint(err), `runtime: not configured: flow "Signup": its SignupHandlers are nil: its Go steps and Go rollbacks are their methods`)
	var noServices *services
	_, err = NewSignupFlow(handlers{}, SignupServices{Customers: noServices, Subscriptions: SignupSubscriptionsCaller{Caller: runtime.NewMemoryCaller()}}, runtime.WithPublisher(runtime.NewMemoryBus()), runtime.WithSubscriber(runtime.NewMemoryBus()))
	check.Equal("nil port pointer: error", fmt.Sprint(err), `runtime: not configured: flow "Signup": SignupServices.Customers is nil: every service the flow calls needs a port (SignupServicesFromCaller builds them all from a runtime.Caller)`)
	_, err = NewSignupFlow(handlers{}, SignupServicesFromCaller(runtime.NewMemoryCaller()), runtime.WithPublisher(runtime.NewMemoryBus()))
	check.Equal("missing parts: ErrNotConfigured", errors.Is(err, runtime.ErrNotConfigured), true)
	check.Equal("missing parts: error", fmt.Sprint(err), `runtime: not configured: flow "Signup": step AwaitPayment needs a Subscriber (WithSubscriber)`)

	// Approved: every step once, in order, then done.
	sv := newServices()
	sv.pay("cus-other") // not correlated with this run: must not be taken
	sv.pay("cus-ada")
	in := initial
	in.Decision = "approve"
	approved := sv.flow()
	res, err := approved.Execute(ctx, in)
	check.Equal("approved: error", err, nil)
	check.Run("approved", sv.sink, res.RunID, res.Final, runtime.StateDone, append(start,
		"AwaitPayment:waiting -> AwaitPayment:running",
		"AwaitPayment:running -> Notify:running [ok]",
		"Notify:running -> Review:running [ok]",
		"Review:running -> Activate:running [approved]",
		"Activate:running -> done [ok]")...)
	check.Equal("approved: customer", res.State.CustomerID, "cus-ada")
	check.Equal("approved: subscription", res.State.SubscriptionID, "sub-pro")
	check.Equal("approved: payment", res.State.Payment, Payment{Amount: 10, CorrelationID: "cus-ada"})
	check.Equal("approved: active", res.State.Active, true)
	// A finished run is not live: Abort says the run is unknown here, as its
	// doc says; so do Status and State of a run nobody started.
	check.Equal("abort finished: ErrUnknownRun", errors.Is(approved.Abort(res.RunID), runtime.ErrUnknownRun), true)
	_, err = approved.Status(ctx, "no-such-run")
	check.Equal("status unknown: ErrUnknownRun", errors.Is(err, runtime.ErrUnknownRun), true)
	_, err = approved.State(ctx, "no-such-run")
	check.Equal("state unknown: ErrUnknownRun", errors.Is(err, runtime.ErrUnknownRun), true)
	// The typed port got the step's context: its idempotency key.
	check.Equal("approved: port keys", strings.Join(sv.keys, ","), res.RunID+"/CreateCustomer")
	var topics []string
	for _, m := range sv.bus.Published() {
		topics = append(topics, m.Topic+"/"+m.Event)
	}
	b, _ := json.Marshal(topics)
	check.Equal("approved: published", string(b),
		`["payments/payment.succeeded","payments/payment.succeeded","billing/subscription.created","mail/welcome"]`)

	// Rejected: the outcome routes to fail, and the two steps with a
	// rollback are undone in reverse order; irreversible ones are not.
	sv = newServices()
	sv.pay("cus-ada")
	in = initial
	in.Decision = "reject"
	res, _ = sv.flow().Execute(ctx, in)
	check.Run("rejected", sv.sink, res.RunID, res.Final, runtime.StateCompensated, append(append(start,
		"AwaitPayment:waiting -> AwaitPayment:running",
		"AwaitPayment:running -> Notify:running [ok]",
		"Notify:running -> Review:running [ok]",
		"Review:running -> failing [rejected]"), undo...)...)
	check.Equal("rejected: cancelled", res.State.Cancelled, true)
	check.Equal("rejected: deleted", len(sv.deleted) == 1 && sv.deleted[0] == "cus-ada", true)
	check.Equal("rejected: port keys", strings.Join(sv.keys, ","), res.RunID+"/CreateCustomer,"+res.RunID+"/CreateCustomer/rollback")

	// No payment within 72h (a fake clock): the await times out into
	// ExpireTrial, which routes ok to fail.
	sv = newServices()
	clock := runtime.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	run, err := sv.flow(runtime.WithClock(clock)).Start(ctx, initial)
	check.Equal("expired: start error", err, nil)
	awaiting(run, clock)
	clock.Advance(72 * time.Hour)
	res, _ = run.Wait(ctx)
	check.Run("expired", sv.sink, res.RunID, res.Final, runtime.StateCompensated, append(append(start,
		"AwaitPayment:waiting -> ExpireTrial:running [timeout]",
		"ExpireTrial:running -> failing [ok]"), undo...)...)

	resumed(ctx, initial)
}

// resumed: a "process" dies while its run waits for the payment (its sink
// refuses the next event, as a store that never got it); a second one,
// on the same history, finds the run (Runs), resumes it (ResumeAll), and
// it ends done without creating the customer again.
func resumed(ctx context.Context, initial SignupState) {
	first := newServices()
	dies := runtime.SinkFunc(func(ctx context.Context, e runtime.Event) error {
		if e.To == runtime.RunningState(SignupStepNotify) {
			return errors.New("the process died")
		}
		return first.sink.Emit(ctx, e)
	})
	in := initial
	in.Decision = "approve"
	f := first.flow(runtime.WithSink(dies))
	run, err := f.Start(ctx, in, runtime.WithRunID("crash-1"))
	check.Equal("resumed: start error", err, nil)
	first.pay("cus-ada")
	res, _ := run.Wait(ctx)
	check.Equal("resumed: the first process's run stopped", res.Final, runtime.StateFailed)

	second := newServices()
	second.sink = first.sink // the store survives the process
	g := second.flow()
	ids, err := g.Runs(ctx, second.sink, runtime.StateRunning)
	check.Equal("resumed: Runs error", err, nil)
	check.Equal("resumed: running runs", strings.Join(ids, ","), "crash-1")
	runs, err := g.ResumeAll(ctx, second.sink)
	check.Equal("resumed: ResumeAll error", err, nil)
	check.Equal("resumed: runs resumed", len(runs), 1)
	// The await was in flight: it runs again and needs the payment again,
	// as a bus that redelivers what was not acknowledged gives it.
	second.pay("cus-ada")
	res, err = runs[0].Wait(ctx)
	check.Equal("resumed: error", err, nil)
	check.Run("resumed", second.sink, res.RunID, res.Final, runtime.StateDone, append(start,
		"AwaitPayment:waiting -> AwaitPayment:running",
		"AwaitPayment:running -> Notify:running [ok]",
		"Notify:running -> Review:running [ok]",
		"Review:running -> Activate:running [approved]",
		"Activate:running -> done [ok]")...)
	check.Equal("resumed: customers created before the crash", first.created, 1)
	check.Equal("resumed: customers created after it", second.created, 0)
	st, err := g.State(ctx, "crash-1")
	check.Equal("resumed: State error", err, nil)
	check.Equal("resumed: State", st.Active && st.CustomerID == "cus-ada", true)
	h, err := g.History(ctx, "crash-1")
	check.Equal("resumed: History error", err, nil)
	check.Equal("resumed: History", len(h), len(check.Transitions(second.sink.History("crash-1"))))
	if again, err := g.ResumeAll(ctx, second.sink); err != nil || len(again) != 0 {
		check.Fatalf("resumed: a second ResumeAll resumed %d runs, %v", len(again), err)
	}
}

// awaiting waits until run waits for its payment with its timer set.
func awaiting(run *SignupRun, clock *runtime.FakeClock) {
	for range 10000 {
		if run.Status().Machine == runtime.WaitingState(SignupStepAwaitPayment) && clock.Pending() > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	check.Fatalf("run never reached %s: %+v", SignupStepAwaitPayment, run.Status())
}
