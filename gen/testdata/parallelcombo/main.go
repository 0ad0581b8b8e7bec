// Command parallelcombo runs the generated Fulfil flow, whose parallel
// block sits among a choose, a sleep, a call and an await: a regular
// order goes through the sleep, the block, the child run and the payment;
// an express order whose authorization outlives its deadline leaves the
// block by its timeout, and the completed branch is rolled back. Each
// branch's attempts share its idempotency key, and no two branches share
// one.
package main

import (
	"context"
	"errors"
	"strings"
	"sync"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct {
	mu   *sync.Mutex
	keys map[string][]string // idempotency keys by what used them
}

func (h handlers) key(ctx context.Context, what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys[what] = append(h.keys[what], runtime.IdempotencyKey(ctx))
}

func (h handlers) Authorize(ctx context.Context, s *FulfilState) error {
	h.key(ctx, "Authorize")
	if s.Slow {
		<-ctx.Done() // until the deadline
		return ctx.Err()
	}
	s.Invoice = Invoice{Amount: len(s.Items)}
	return nil
}

func (h handlers) Void(ctx context.Context, _ *FulfilState) error {
	h.key(ctx, "Void")
	return nil
}

func (h handlers) Ship(context.Context, *FulfilState) error { return nil }
func (h handlers) Late(context.Context, *FulfilState) error { return nil }

func (h handlers) Charge(_ context.Context, s *Invoice) error {
	if s.Amount == 0 {
		return errors.New("the block did not merge the invoice Authorize wrote")
	}
	s.Receipt = "paid"
	return nil
}

func run(id string, state FulfilState) (runtime.Result[FulfilState], *runtime.MemorySink, *runtime.MemoryBus, map[string][]string) {
	caller := runtime.NewMemoryCaller()
	h := handlers{mu: &sync.Mutex{}, keys: map[string][]string{}}
	reserves := 0
	caller.Handle("inventory", "Stock.Reserve", runtime.HandleFunc(func(ctx context.Context, items []string) (string, error) {
		h.key(ctx, "Reserve")
		if reserves++; reserves == 1 {
			return "", errors.New("inventory: busy") // retried with the same key
		}
		return "res-" + strings.Join(items, "+"), nil
	}))
	caller.Handle("inventory", "Stock.Release", runtime.HandleFunc(func(ctx context.Context, res string) (any, error) {
		h.key(ctx, "Release "+res)
		return nil, nil
	}))
	bus, sink := runtime.NewMemoryBus(), runtime.NewMemorySink()
	if err := bus.Publish(context.Background(), "payments", "payment.done", "pay-1"); err != nil {
		check.Fatalf("publish: %v", err)
	}
	opts := []runtime.Option{runtime.WithSink(sink), runtime.WithPublisher(bus), runtime.WithSubscriber(bus)}
	billing, err := NewBillingFlow(h, opts...)
	if err != nil {
		check.Fatalf("NewBillingFlow: %v", err)
	}
	f, err := NewFulfilFlow(h, FulfilServicesFromCaller(caller), billing, opts...)
	if err != nil {
		check.Fatalf("NewFulfilFlow: %v", err)
	}
	res, _ := f.Execute(context.Background(), state, runtime.WithRunID(id))
	return res, sink, bus, h.keys
}

// own is a run's history without its branches' events, whose order
// among themselves varies.
func own(sink *runtime.MemorySink, runID string) []runtime.Event {
	var out []runtime.Event
	for _, e := range sink.History(runID) {
		if e.Branch == "" {
			out = append(out, e)
		}
	}
	return out
}

func lines(events []runtime.Event) string { return strings.Join(check.Transitions(events), "; ") }

func main() {
	// A regular order: the sleep, the block, the child, the payment.
	res, sink, bus, keys := run("regular", FulfilState{Items: []string{"book"}})
	check.Equal("regular: final", res.Final, runtime.StateDone)
	check.Equal("regular: the run's own events", lines(own(sink, "regular")), strings.Join([]string{
		"pending -> Route:running",
		"Route:running -> Queue:waiting [otherwise]",
		"Queue:waiting -> Queue:running",
		"Queue:running -> Prepare:parallel [ok]",
		"Prepare:parallel -> Bill:waiting [ok]",
		"Bill:waiting -> Bill:running",
		"Bill:running -> Paid:waiting [ok]",
		"Paid:waiting -> Paid:running",
		"Paid:running -> Ship:running [ok]",
		"Ship:running -> done [ok]",
	}, "; "))
	check.Equal("regular: state", res.State.Reservation+" "+res.State.Invoice.Receipt+" "+res.State.Payment, "res-book paid pay-1")
	check.Equal("regular: Reserve's keys (an attempt and its retry)", strings.Join(keys["Reserve"], " "), "regular/Reserve regular/Reserve")
	check.Equal("regular: Authorize's key", strings.Join(keys["Authorize"], " "), "regular/Authorize")
	var published []string
	for _, m := range bus.Published() {
		if m.Topic == "shop" {
			published = append(published, m.Event+" "+string(m.Payload))
		}
	}
	check.Equal("regular: published", len(published), 2)
	check.Equal("regular: published by the branches", strings.Contains(strings.Join(published, "; "), `stock.reserved "res-book"`) &&
		strings.Contains(strings.Join(published, "; "), `order.preparing ["book"]`), true)

	// An express order whose authorization outlives its deadline: the
	// block ends timeout and routes to Late, which fails the run; the
	// completed Reserve is released, Authorize (not completed) is not
	// voided, Announce is irreversible.
	res, sink, _, keys = run("express", FulfilState{Express: true, Items: []string{"pen"}, Slow: true})
	check.Equal("express: final", res.Final, runtime.StateCompensated)
	check.Equal("express: the run's own events", lines(own(sink, "express")), strings.Join([]string{
		"pending -> Route:running",
		"Route:running -> Prepare:parallel [when1]",
		"Prepare:parallel -> Late:running [timeout]",
		"Late:running -> failing [ok]",
		"failing -> Reserve:rollback",
		"Reserve:rollback -> failing [ok]",
		"failing -> compensated",
	}, "; "))
	st, err := runtime.Replay(sink.History("express"))
	if err != nil {
		check.Fatalf("express: replay: %v", err)
	}
	for _, b := range st.Branches {
		if b.Step == "Authorize" {
			check.Equal("express: Authorize's outcome", b.Outcome, runtime.OutcomeTimeout)
		}
	}
	check.Equal("express: released", strings.Join(keys["Release res-pen"], " "), "express/Reserve/rollback")
	check.Equal("express: voided", len(keys["Void"]), 0)
}
