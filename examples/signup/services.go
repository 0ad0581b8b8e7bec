package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/flowgen/flowgen/examples/internal/demo"
	"github.com/flowgen/flowgen/runtime"
)

// services are fake customers and subscriptions services in the process.
// Every record keeps the idempotency key of the call that made it (which
// names the run and the step), so that the program and its tests can say
// what each run did to the world.
type services struct {
	mu   sync.Mutex
	path string // "" keeps the data in memory only
	data servicesData
}

type servicesData struct {
	Customers     []customer     `json:"customers"`
	Subscriptions []subscription `json:"subscriptions"`
}

type customer struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Key     string `json:"key"` // idempotency key of the call that created it
	Deleted bool   `json:"deleted,omitempty"`
}

type subscription struct {
	ID        string `json:"id"`
	Plan      string `json:"plan"`
	Key       string `json:"key"`
	Cancelled bool   `json:"cancelled,omitempty"`
}

// openServices loads the services' data from dir ("" for none), the
// file demo.ServicesFile beside the store's.
func openServices(dir string) (*services, error) {
	sv := &services{}
	path, err := demo.LoadServices(dir, &sv.data)
	if err != nil {
		return nil, err
	}
	sv.path = path
	return sv, nil
}

// save writes the data (demo.SaveServices). Called with mu held.
func (sv *services) save() error { return demo.SaveServices(sv.path, sv.data) }

// register puts the services on caller.
func (sv *services) register(caller *runtime.MemoryCaller) {
	caller.Handle("customers", "Customer.Create", runtime.HandleFunc(sv.createCustomer))
	caller.Handle("customers", "Customer.Delete", runtime.HandleFunc(sv.deleteCustomer))
	caller.Handle("subscriptions", "Subscription.Create", runtime.HandleFunc(sv.createSubscription))
}

// createCustomer creates a customer. The first attempt of every run fails,
// as a busy service does, to show a retry. A call with an idempotency key
// it has seen returns the customer it created then: that is what the key
// is for.
func (sv *services) createCustomer(ctx context.Context, cu Customer) (string, error) {
	if runtime.Attempt(ctx) == 1 {
		return "", errors.New("customers: too busy, try again")
	}
	key := runtime.IdempotencyKey(ctx)
	sv.mu.Lock()
	defer sv.mu.Unlock()
	for _, c := range sv.data.Customers {
		if c.Key == key {
			return c.ID, nil
		}
	}
	id := fmt.Sprintf("cus-%d", len(sv.data.Customers)+1)
	sv.data.Customers = append(sv.data.Customers, customer{ID: id, Name: cu.Name, Key: key})
	return id, sv.save()
}

func (sv *services) deleteCustomer(_ context.Context, id string) (any, error) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	for i := range sv.data.Customers {
		if sv.data.Customers[i].ID == id {
			sv.data.Customers[i].Deleted = true
		}
	}
	return nil, sv.save()
}

// createSubscription knows two plans.
func (sv *services) createSubscription(ctx context.Context, plan string) (string, error) {
	if plan != "basic" && plan != "pro" {
		// Retrying will not make the plan exist.
		return "", runtime.Permanent(fmt.Errorf("subscriptions: no plan %q", plan))
	}
	key := runtime.IdempotencyKey(ctx)
	sv.mu.Lock()
	defer sv.mu.Unlock()
	for _, s := range sv.data.Subscriptions {
		if s.Key == key {
			return s.ID, nil
		}
	}
	id := fmt.Sprintf("sub-%d", len(sv.data.Subscriptions)+1)
	sv.data.Subscriptions = append(sv.data.Subscriptions, subscription{ID: id, Plan: plan, Key: key})
	return id, sv.save()
}

// cancelSubscription backs the Go rollback CancelSubscription.
func (sv *services) cancelSubscription(id string) error {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	for i := range sv.data.Subscriptions {
		if sv.data.Subscriptions[i].ID == id {
			sv.data.Subscriptions[i].Cancelled = true
		}
	}
	return sv.save()
}

// effects is what one run did to the services.
type effects struct {
	Customers     []customer
	Subscriptions []subscription
}

// of returns the records that runID's calls made.
func (sv *services) of(runID string) effects {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var e effects
	prefix := runID + "/"
	for _, c := range sv.data.Customers {
		if strings.HasPrefix(c.Key, prefix) {
			e.Customers = append(e.Customers, c)
		}
	}
	for _, s := range sv.data.Subscriptions {
		if strings.HasPrefix(s.Key, prefix) {
			e.Subscriptions = append(e.Subscriptions, s)
		}
	}
	return e
}

// String says what the run did, for the program's output:
// "customer cus-1 created once, subscription sub-1 active".
func (e effects) String() string {
	var parts []string
	times := func(n int) string {
		switch n {
		case 1:
			return "once"
		case 2:
			return "twice"
		}
		return fmt.Sprintf("%d times", n)
	}
	switch {
	case len(e.Customers) == 0:
		parts = append(parts, "no customer")
	default:
		c := e.Customers[len(e.Customers)-1]
		what := "customer " + c.ID + " created " + times(len(e.Customers))
		if c.Deleted {
			what += ", then deleted"
		}
		parts = append(parts, what)
	}
	switch {
	case len(e.Subscriptions) == 0:
		parts = append(parts, "no subscription")
	default:
		s := e.Subscriptions[len(e.Subscriptions)-1]
		state := "active"
		if s.Cancelled {
			state = "cancelled"
		}
		what := "subscription " + s.ID + " " + state
		if len(e.Subscriptions) > 1 {
			what += fmt.Sprintf(" (%d created)", len(e.Subscriptions))
		}
		parts = append(parts, what)
	}
	return strings.Join(parts, ", ")
}
