package main

import (
	"context"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// app is a fake shop in one process: orders, a bank that settles refunds
// (or not), a bus, and the Cancel flow on them.
type app struct {
	caller *runtime.MemoryCaller
	bus    *runtime.MemoryBus
	clock  *runtime.FakeClock
	flow   *CancelFlow
}

var orders = map[string]Order{
	"o-unpaid":  {ID: "o-unpaid"},
	"o-paid":    {ID: "o-paid", Paid: true},
	"o-slow":    {ID: "o-slow", Paid: true}, // its refund never settles
	"o-shipped": {ID: "o-shipped", Paid: true, Shipped: true},
}

// newApp wires the flow to the fake services. This is the one place that
// chooses the runtime's options: to keep histories across restarts, give
// runtime.WithSink a durable store (runtime/store) instead of the
// MemorySink. The clock is a fake one that the example moves by hand, so
// that a day passes at once.
func newApp() (*app, error) {
	a := &app{
		caller: runtime.NewMemoryCaller(),
		bus:    runtime.NewMemoryBus(),
		clock:  runtime.NewFakeClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)),
	}
	a.caller.Handle("payments", "Payment.Refund", runtime.HandleFunc(a.refund))
	a.caller.Handle("orders", "Order.Close", runtime.HandleFunc(func(context.Context, string) (any, error) { return nil, nil }))
	f, err := NewCancelFlow(handlers{orders: orders},
		runtime.WithCaller(a.caller),
		runtime.WithPublisher(a.bus),
		runtime.WithSubscriber(a.bus),
		runtime.WithClock(a.clock),
		runtime.WithSink(runtime.NewMemorySink()),
	)
	if err != nil {
		return nil, err
	}
	a.flow = f
	return a, nil
}

// refund is the bank: it settles every refund at once, except o-slow's.
func (a *app) refund(ctx context.Context, orderID string) (string, error) {
	id := "rf-" + orderID
	if orderID != "o-slow" {
		if err := a.bus.Publish(ctx, "payments", "refund.settled", Settlement{RefundID: id, Cents: 1299}); err != nil {
			return "", err
		}
	}
	return id, nil
}

// published lists the events the flows published, as topic/event.
func (a *app) published() []string {
	var out []string
	for _, m := range a.bus.Published() {
		if m.Topic != "payments" {
			out = append(out, m.Topic+"/"+m.Event+" "+string(m.Payload))
		}
	}
	return out
}
