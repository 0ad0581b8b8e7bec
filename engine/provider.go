package engine

import (
	"context"
	"fmt"
	"sync"
)

// Handler runs a Go step of a JSON-defined flow: it reads and writes the
// run's state and returns the step's outcome ("" or "ok", or one of the
// step's declared outcomes). Errors are retried per the step's retry policy
// unless marked runtime.Permanent; runtime.IdempotencyKey(ctx) identifies
// the step execution across retries and restarts.
type Handler func(ctx context.Context, s *State) (outcome string, err error)

// RollbackHandler undoes a completed step: a Go rollback of a JSON flow.
type RollbackHandler func(ctx context.Context, s *State) error

// Provider is how a service takes part in JSON-defined flows: it registers
// the Go steps and rollbacks it implements, by name. Names are either
// qualified by the flow ("Signup.Review") or plain ("Review"); a qualified
// name wins over a plain one, so one service can serve a step name that
// several flows share and still override it for one flow.
type Provider interface {
	Provide(r *Registry)
}

// ProviderFunc adapts a function to a Provider.
type ProviderFunc func(r *Registry)

// Provide calls f.
func (f ProviderFunc) Provide(r *Registry) { f(r) }

// Registry holds the handlers services registered. It is safe for
// concurrent use. A JSON flow is checked against it when it is loaded: a Go
// step or rollback without a handler rejects the flow.
type Registry struct {
	mu        sync.RWMutex
	steps     map[string]Handler
	rollbacks map[string]RollbackHandler
	// added, set by an engine with remote providers, wakes the runs that
	// wait for a provider of a handler now registered here.
	added func()
}

func newRegistry() *Registry {
	return &Registry{steps: map[string]Handler{}, rollbacks: map[string]RollbackHandler{}}
}

// Step registers the handler of Go steps named name ("Flow.Step" or
// "Step"), replacing any earlier one. A nil handler is ignored.
func (r *Registry) Step(name string, h Handler) {
	if h == nil {
		return
	}
	r.mu.Lock()
	r.steps[name] = h
	added := r.added
	r.mu.Unlock()
	if added != nil {
		added()
	}
}

// Rollback registers the handler of Go rollbacks named name ("Flow.Name" or
// "Name"), replacing any earlier one. A nil handler is ignored.
func (r *Registry) Rollback(name string, h RollbackHandler) {
	if h == nil {
		return
	}
	r.mu.Lock()
	r.rollbacks[name] = h
	added := r.added
	r.mu.Unlock()
	if added != nil {
		added()
	}
}

// step finds the handler of a Go step of flow.
func (r *Registry) step(flow, name string) (Handler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if h, ok := r.steps[flow+"."+name]; ok {
		return h, true
	}
	h, ok := r.steps[name]
	return h, ok
}

func (r *Registry) rollback(flow, name string) (RollbackHandler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if h, ok := r.rollbacks[flow+"."+name]; ok {
		return h, true
	}
	h, ok := r.rollbacks[name]
	return h, ok
}

// lateStep resolves the handler at run time, so a flow compiled against
// one registration runs the handler registered under the same name later
// (a service re-registering after a restart of its connection). Load
// guarantees that some handler exists.
func (r *Registry) lateStep(flow, name string) Handler {
	return func(ctx context.Context, s *State) (string, error) {
		h, ok := r.step(flow, name)
		if !ok {
			return "", fmt.Errorf("%w: no handler for Go step %q of flow %q", ErrNoHandler, name, flow)
		}
		return h(ctx, s)
	}
}

func (r *Registry) lateRollback(flow, name string) RollbackHandler {
	return func(ctx context.Context, s *State) error {
		h, ok := r.rollback(flow, name)
		if !ok {
			return fmt.Errorf("%w: no handler for Go rollback %q of flow %q", ErrNoHandler, name, flow)
		}
		return h(ctx, s)
	}
}
