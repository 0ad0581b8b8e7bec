package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// app is a fake shop in one process: orders, a bank that settles refunds
// (or not), a bus, a clock, and the Cancel flow on them, recording every
// transition in a durable store.
type app struct {
	store  *store.Store
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

// openApp opens the store in dir and wires the flow to it and to the fake
// services. This is the one place that chooses the runtime's options. The
// clock is a fake one that the example moves by hand, so that a day
// passes at once; it starts at the real time, so that the store's
// histories have real dates.
func openApp(dir string) (*app, error) {
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	a := &app{
		store:  st,
		caller: runtime.NewMemoryCaller(),
		bus:    runtime.NewMemoryBus(),
		clock:  runtime.NewFakeClock(time.Now().UTC().Truncate(time.Second)),
	}
	a.caller.Handle("payments", "Payment.Refund", runtime.HandleFunc(a.refund))
	a.caller.Handle("orders", "Order.Close", runtime.HandleFunc(func(context.Context, string) (any, error) { return nil, nil }))
	f, err := NewCancelFlow(handlers{orders: orders}, CancelServicesFromCaller(a.caller),
		runtime.WithPublisher(a.bus),
		runtime.WithSubscriber(a.bus),
		runtime.WithClock(a.clock),
		runtime.WithSink(st),
	)
	if err != nil {
		st.Close()
		return nil, err
	}
	a.flow = f
	return a, nil
}

func (a *app) Close() error { return a.store.Close() }

// settles says whether the bank settles order's refund: every one at once,
// except o-slow's.
func settles(orderID string) bool { return orderID != "o-slow" }

// refund is the bank: it settles the refunds that settles says it does.
func (a *app) refund(ctx context.Context, orderID string) (string, error) {
	id := "rf-" + orderID
	if settles(orderID) {
		if err := a.bus.Publish(ctx, "payments", "refund.settled", Settlement{RefundID: id, Cents: 1299}); err != nil {
			return "", err
		}
	}
	return id, nil
}

// finish waits for run to end. While the run waits for a settlement that
// will never come, it moves the fake clock on to the wait's recorded
// deadline, so that the wait times out at once. Only up to the deadline,
// and so only once: a status read just before the timeout still says the
// run waits, and moving the clock on again then would time out the
// attempts of the rollbacks that follow, which run on the same clock. A
// settlement that comes wakes the run by itself (moving the clock then
// would race the delivery, and time the wait out instead).
func (a *app) finish(ctx context.Context, run *CancelRun) (runtime.Result[CancelState], error) {
	for {
		select {
		case <-run.Done():
			return run.Wait(ctx)
		case <-time.After(time.Millisecond):
		}
		st := run.Status()
		if st.Machine != runtime.WaitingState(CancelStepAwaitRefund) || st.Wait == nil || a.clock.Pending() == 0 {
			continue
		}
		var s CancelState
		if err := json.Unmarshal(st.Snapshot, &s); err == nil && !settles(s.OrderID) {
			if d := st.Wait.Deadline.Sub(a.clock.Now()); d > 0 {
				a.clock.Advance(d)
			}
		}
	}
}

// published lists the events published about order, as topic/event and
// payload.
func (a *app) published(order string) []string {
	var out []string
	for _, m := range a.bus.Published() {
		if p := string(m.Payload); m.Topic != "payments" && (p == `"`+order+`"` || p == `"rf-`+order+`"`) {
			out = append(out, m.Topic+"/"+m.Event+" "+p)
		}
	}
	return out
}
