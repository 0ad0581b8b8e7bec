package order

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// world is what the handlers of the three flows do, scripted by the tests,
// and the journal of what they did, in order.
type world struct {
	mu       sync.Mutex
	lines    []string
	authFail bool          // Authorize fails for good
	slowAuth time.Duration // Authorize takes this long first
	// authAfter, when set, makes Authorize wait for Reserve to return,
	// then this long: a test that needs Reserve's completion recorded
	// first counts the head start from Reserve's end, not from both
	// attempts' starts, which a loaded worker may start far apart.
	authAfter    time.Duration
	returned     chan struct{} // closed as Reserve returns (set by afterReserve)
	returnedOnce sync.Once
	slowRes      time.Duration // Reserve takes this long, or until its context ends
	// reserving, when set, is closed as Reserve starts, and Authorize
	// waits for it: a test that needs Reserve running when Authorize
	// fails says so, rather than hoping a fixed delay is long enough
	// for the worker to start it on a loaded machine.
	reserving chan struct{}
	reserved  sync.Once
	shipFail  bool          // Ship fails for good
	slowPay   time.Duration // Charge takes this long first, whatever its context says
	// charging, when set, is closed as Charge starts: a test that aborts
	// while Charge runs waits for it, rather than for the state the run
	// enters before the attempt starts (an abort then runs no Charge).
	charging chan struct{}
	charged  sync.Once
	sink     *runtime.MemorySink
}

// afterReserve makes Authorize wait for Reserve to return, then d.
func (w *world) afterReserve(d time.Duration) {
	w.authAfter, w.returned = d, make(chan struct{})
}

func (w *world) add(ctx context.Context, what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, what+" "+runtime.IdempotencyKey(ctx))
}

func (w *world) journal() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

type orders struct{ w *world }

func (o orders) Reserve(ctx context.Context, s *OrderState) error {
	s.Scratch = "reserve"
	if c := o.w.returned; c != nil {
		defer o.w.returnedOnce.Do(func() { close(c) })
	}
	if c := o.w.reserving; c != nil {
		o.w.reserved.Do(func() { close(c) })
	}
	if d := o.w.slowRes; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			o.w.add(ctx, "cancelled Reserve")
			return ctx.Err()
		}
	}
	s.Reservation = "res-" + strings.Join(s.Items, "+")
	o.w.add(ctx, "Reserve")
	return nil
}

func (o orders) Release(ctx context.Context, s *OrderState) error {
	o.w.add(ctx, "Release "+s.Reservation)
	return nil
}

func (o orders) Authorize(ctx context.Context, s *OrderState) error {
	s.Scratch = "authorize"
	time.Sleep(o.w.slowAuth)
	if c := o.w.returned; c != nil {
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
		time.Sleep(o.w.authAfter)
	}
	if c := o.w.reserving; c != nil {
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if o.w.authFail {
		o.w.add(ctx, "fail Authorize")
		return runtime.Permanent(errors.New("card declined"))
	}
	s.Authorization = "auth-1"
	o.w.add(ctx, "Authorize")
	return nil
}

func (o orders) Void(ctx context.Context, s *OrderState) error {
	o.w.add(ctx, "Void "+s.Authorization)
	return nil
}

func (o orders) Ship(ctx context.Context, s *OrderState) error {
	if o.w.shipFail {
		o.w.add(ctx, "fail Ship")
		return runtime.Permanent(errors.New("no truck"))
	}
	s.Shipped = true
	o.w.add(ctx, "Ship")
	return nil
}

type billing struct{ w *world }

func (b billing) Charge(ctx context.Context, s *Invoice) error {
	if c := b.w.charging; c != nil {
		b.w.charged.Do(func() { close(c) })
	}
	time.Sleep(b.w.slowPay)
	s.Charge = fmt.Sprintf("ch-%d", s.Amount)
	b.w.add(ctx, "Charge")
	return nil
}

func (b billing) Uncharge(ctx context.Context, s *Invoice) error {
	b.w.add(ctx, "Uncharge "+s.Charge)
	return nil
}

func (b billing) Confirm(ctx context.Context, s *Invoice) error {
	if s.Amount > 100 {
		b.w.add(ctx, "fail Confirm")
		return runtime.Permanent(errors.New("over the limit"))
	}
	s.Paid = true
	b.w.add(ctx, "Confirm")
	return nil
}

type refunds struct{ w *world }

func (r refunds) PayBack(ctx context.Context, s *Invoice) error {
	s.Refunded = true
	r.w.add(ctx, "PayBack "+s.Charge)
	return nil
}

// order builds the three flows for Temporal, as a worker would: the
// callees first.
func (w *world) order(t *testing.T) *OrderTemporal {
	t.Helper()
	w.sink = runtime.NewMemorySink()
	opt := runtime.WithSink(w.sink)
	b, err := NewBillingTemporal(billing{w}, opt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRefundTemporal(refunds{w}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewOrderTemporal(orders{w}, nil, r, opt); !errors.Is(err, runtime.ErrDefinition) {
		t.Fatalf("NewOrderTemporal without Billing: %v", err)
	}
	o, err := NewOrderTemporal(orders{w}, b, r, opt)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// rollbacksOfBranches are the rollbacks the history says the block's
// branches get, newest completion first.
func rollbacksOfBranches(h []runtime.Event) []string {
	var done []string
	for _, e := range h {
		if e.Branch != "" && e.To == "Prepare:parallel" && e.Error == "" {
			done = append(done, e.Branch)
		}
	}
	var out []string
	for i := len(done) - 1; i >= 0; i-- {
		out = append(out, done[i])
	}
	return out
}

// undoLine is the journal line of branch's rollback in run.
func undoLine(run, branch string, s OrderState) string {
	if branch == "Reserve" {
		return "Release " + s.Reservation + " " + run + "/Reserve/rollback"
	}
	return "Void " + s.Authorization + " " + run + "/Authorize/rollback"
}
