package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/flowgen/flowgen/runtime"
)

// app is everything a run of the example needs: fake services in the same
// process, and the flow built on them.
type app struct {
	caller        *runtime.MemoryCaller
	bus           *runtime.MemoryBus
	customers     *customers
	subscriptions *subscriptions
	flow          *SignupFlow
}

// newApp wires the flow to in-process services. This is the one place that
// chooses the runtime's options: to keep histories across restarts, give
// runtime.WithSink a durable store (runtime/store) instead of the
// MemorySink.
func newApp() (*app, error) {
	a := &app{
		caller:        runtime.NewMemoryCaller(),
		bus:           runtime.NewMemoryBus(),
		customers:     &customers{},
		subscriptions: &subscriptions{},
	}
	a.caller.Handle("customers", "Customer.Create", runtime.HandleFunc(a.customers.create))
	a.caller.Handle("customers", "Customer.Delete", runtime.HandleFunc(a.customers.delete))
	a.caller.Handle("subscriptions", "Subscription.Create", runtime.HandleFunc(a.subscriptions.create))
	f, err := NewSignupFlow(handlers{subscriptions: a.subscriptions},
		runtime.WithCaller(a.caller),
		runtime.WithPublisher(a.bus),
		runtime.WithSubscriber(a.bus),
		runtime.WithSink(runtime.NewMemorySink()),
	)
	if err != nil {
		return nil, err
	}
	a.flow = f
	return a, nil
}

// customers is a fake customers service. Its first call fails, as a busy
// service does, to show a retry.
type customers struct {
	mu    sync.Mutex
	calls int
	ids   []string
}

func (c *customers) create(_ context.Context, cu Customer) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls++; c.calls == 1 {
		return "", errors.New("customers: too busy, try again")
	}
	id := "cus-" + cu.Name
	c.ids = append(c.ids, id)
	return id, nil
}

func (c *customers) delete(_ context.Context, id string) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = slices.DeleteFunc(c.ids, func(x string) bool { return x == id })
	return nil, nil
}

func (c *customers) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ids)
}

// pay publishes the payment of a customer, as the payments service would.
func (a *app) pay(customerID string, cents int) error {
	return a.bus.Publish(context.Background(), "payments", "payment.succeeded", Payment{CustomerID: customerID, Cents: cents})
}

// subscriptions is a fake subscriptions service that knows two plans.
type subscriptions struct {
	mu     sync.Mutex
	active []string
}

func (s *subscriptions) create(_ context.Context, plan string) (string, error) {
	if plan != "basic" && plan != "pro" {
		// Retrying will not make the plan exist.
		return "", runtime.Permanent(fmt.Errorf("subscriptions: no plan %q", plan))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("sub-%d", len(s.active)+1)
	s.active = append(s.active, id)
	return id, nil
}

func (s *subscriptions) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.active)
}

func (s *subscriptions) cancel(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active = slices.DeleteFunc(s.active, func(a string) bool { return a == id })
	return nil
}
