package signup

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// world is the fake services of a test: what each call did, in order,
// with its idempotency key, so that tests can compare what a run did.
type world struct {
	caller *runtime.MemoryCaller
	bus    *runtime.MemoryBus
	sink   *runtime.MemorySink

	mu        sync.Mutex
	log       []string       // "Customer.Create run/CreateCustomer", "CancelSubscription ..."
	fails     map[string]int // endpoint -> failures left before it succeeds
	permanent map[string]bool
}

func newWorld() *world {
	w := &world{caller: runtime.NewMemoryCaller(), bus: runtime.NewMemoryBus(), sink: runtime.NewMemorySink(),
		fails: map[string]int{}, permanent: map[string]bool{}}
	serve := func(endpoint string, rsp func(req json.RawMessage) any) {
		w.caller.Handle(endpointService(endpoint), endpoint, func(ctx context.Context, req json.RawMessage) (any, error) {
			if err := w.record(endpoint, runtime.IdempotencyKey(ctx)); err != nil {
				return nil, err
			}
			return rsp(req), nil
		})
	}
	serve("Customer.Create", func(json.RawMessage) any { return "cus_1" })
	serve("Customer.Delete", func(json.RawMessage) any { return nil })
	serve("Subscription.Create", func(json.RawMessage) any { return "sub_1" })
	return w
}

func endpointService(endpoint string) string {
	if endpoint[:3] == "Cus" {
		return "customers"
	}
	return "subscriptions"
}

// record logs a call and fails it as the test scripted.
func (w *world) record(what, key string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, what+" "+key)
	switch {
	case w.permanent[what]:
		return runtime.Permanent(fmt.Errorf("%s refused for good", what))
	case w.fails[what] > 0:
		w.fails[what]--
		return fmt.Errorf("%s unavailable", what)
	case w.fails[what] < 0: // fails for ever
		return fmt.Errorf("%s unavailable", what)
	}
	return nil
}

func (w *world) calls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.log)
}

func (w *world) handlers() handlers {
	return handlers{cancelled: func(string) error { return nil }}
}

// signupHandlers wraps the example's handlers so that the world logs the
// Go rollback too.
type signupHandlers struct {
	handlers
	w *world
}

func (h signupHandlers) CancelSubscription(ctx context.Context, s *SignupState) error {
	if err := h.w.record("CancelSubscription", runtime.IdempotencyKey(ctx)); err != nil {
		return err
	}
	return h.handlers.CancelSubscription(ctx, s)
}

func (w *world) signup(t *testing.T) *SignupTemporal {
	t.Helper()
	f, err := NewSignupTemporal(signupHandlers{w.handlers(), w}, SignupServicesFromCaller(w.caller),
		runtime.WithPublisher(w.bus), runtime.WithSink(w.sink))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// reviewHandlers are scripted Go steps of flow Review.
type reviewHandlers struct {
	w        *world
	verdicts []ReviewDecideOutcome // one per visit of Decide
	slow     time.Duration         // how long Finish takes: time.Hour runs into its timeout, which cancels it
	panics   bool                  // Finish panics
}

func (h *reviewHandlers) Reserve(ctx context.Context, s *ReviewState) error {
	s.Reserved = true
	return h.w.record("Reserve", runtime.IdempotencyKey(ctx))
}

func (h *reviewHandlers) Release(ctx context.Context, s *ReviewState) error {
	s.Reserved = false
	return h.w.record("Release", runtime.IdempotencyKey(ctx))
}

func (h *reviewHandlers) Decide(ctx context.Context, s *ReviewState) (ReviewDecideOutcome, error) {
	if err := h.w.record("Decide", runtime.IdempotencyKey(ctx)); err != nil {
		return "", err
	}
	v := h.verdicts[len(s.Notes)]
	s.Notes = append(s.Notes, string(v))
	return v, nil
}

func (h *reviewHandlers) Undecide(ctx context.Context, s *ReviewState) error {
	return h.w.record("Undecide", runtime.IdempotencyKey(ctx))
}

func (h *reviewHandlers) Finish(ctx context.Context, s *ReviewState) error {
	if err := h.w.record("Finish", runtime.IdempotencyKey(ctx)); err != nil {
		return err
	}
	if h.panics {
		panic("finish exploded")
	}
	select {
	case <-time.After(h.slow):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *reviewHandlers) Late(ctx context.Context, s *ReviewState) error {
	return h.w.record("Late", runtime.IdempotencyKey(ctx))
}

func (w *world) review(t *testing.T, h *reviewHandlers) *ReviewTemporal {
	t.Helper()
	h.w = w
	f, err := NewReviewTemporal(h, runtime.WithSink(w.sink))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// transitions is "from>to" per event, the shape tests compare.
func transitions(h []runtime.Event) []string {
	out := make([]string, len(h))
	for i, e := range h {
		out[i] = e.From + ">" + e.To
	}
	return out
}
