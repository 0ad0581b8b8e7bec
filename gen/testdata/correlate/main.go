// Command correlate runs the generated Fulfil flow, whose awaits correlate
// on payload members other than correlation_id, and exits 1 when an await
// takes an event of the wrong member or order, or misses the right one.
package main

import (
	"context"
	"time"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

func (handlers) Expire(_ context.Context, s *FulfilState) error {
	s.Expired = true
	return nil
}

func publish(bus *runtime.MemoryBus, topic, event string, payload any) {
	if err := bus.Publish(context.Background(), topic, event, payload); err != nil {
		check.Fatalf("publish: %v", err)
	}
}

func newFlow(bus *runtime.MemoryBus, sink *runtime.MemorySink, opts ...runtime.Option) *FulfilFlow {
	f, err := NewFulfilFlow(handlers{}, append([]runtime.Option{runtime.WithSubscriber(bus), runtime.WithSink(sink)}, opts...)...)
	if err != nil {
		check.Fatalf("NewFulfilFlow: %v", err)
	}
	return f
}

func main() {
	ctx := context.Background()

	// Each await takes the one event that carries the run's order under its
	// path, whatever was published before it: the events under another
	// member (correlation_id for Paid, a top-level order_id for Shipped) or
	// for another order stay on the bus.
	bus, sink := runtime.NewMemoryBus(), runtime.NewMemorySink()
	publish(bus, "payments", "payment.succeeded", map[string]any{"correlation_id": "o-1", "cents": 1})
	publish(bus, "payments", "payment.succeeded", Payment{OrderID: "o-2", Cents: 2})
	publish(bus, "payments", "payment.succeeded", Payment{OrderID: "o-1", Cents: 3})
	publish(bus, "shipping", "parcel.sent", map[string]any{"order_id": "o-1", "parcel": map[string]any{"carrier": "top-level"}})
	publish(bus, "shipping", "parcel.sent", Sent{Parcel{OrderID: "o-1", Carrier: "post"}})
	publish(bus, "shipping", "parcel.delivered", map[string]any{"order_id": "o-1"})
	publish(bus, "shipping", "parcel.delivered", map[string]any{"correlation_id": "o-1", "at": "door"})
	// The events are all on the bus: a run that does not end at once
	// missed one, and ends at this guard rather than after its 1h timeouts.
	guard, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := newFlow(bus, sink).Execute(guard, FulfilState{OrderID: "o-1"})
	check.Equal("matched: error", err, nil)
	check.Run("matched", sink, res.RunID, res.Final, runtime.StateDone,
		"pending -> Paid:waiting",
		"Paid:waiting -> Paid:running",
		"Paid:running -> Shipped:waiting [ok]",
		"Shipped:waiting -> Shipped:running",
		"Shipped:running -> Delivered:waiting [ok]",
		"Delivered:waiting -> Delivered:running",
		"Delivered:running -> done [ok]")
	check.Equal("matched: payment", res.State.Payment, Payment{OrderID: "o-1", Cents: 3})
	check.Equal("matched: parcel", res.State.Sent.Parcel, Parcel{OrderID: "o-1", Carrier: "post"})

	// An event that carries the run's order under correlation_id only does
	// not complete an await on order_id: the await times out (a fake
	// clock) into Expire.
	bus, sink = runtime.NewMemoryBus(), runtime.NewMemorySink()
	publish(bus, "payments", "payment.succeeded", map[string]any{"correlation_id": "o-1", "cents": 1})
	clock := runtime.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	run, err := newFlow(bus, sink, runtime.WithClock(clock)).Start(ctx, FulfilState{OrderID: "o-1"})
	check.Equal("unmatched: start error", err, nil)
	awaiting(run, clock)
	clock.Advance(time.Hour)
	res, _ = run.Wait(ctx)
	check.Run("unmatched", sink, res.RunID, res.Final, runtime.StateFailed,
		"pending -> Paid:waiting",
		"Paid:waiting -> Expire:running [timeout]",
		"Expire:running -> failing [ok]",
		"failing -> failed") // nothing to roll back
	check.Equal("unmatched: payment", res.State.Payment, Payment{})
	check.Equal("unmatched: expired", res.State.Expired, true)

	// An integer field correlates with the member that holds its number:
	// 42 takes the event of invoice 42, not the one of invoice 4 nor of
	// "*" (the rune string(42) is).
	bus, sink = runtime.NewMemoryBus(), runtime.NewMemorySink()
	publish(bus, "payments", "invoice.paid", map[string]any{"number": 4, "cents": 1})
	publish(bus, "payments", "invoice.paid", map[string]any{"number": "*", "cents": 2})
	publish(bus, "payments", "invoice.paid", Invoice{Number: 42, Cents: 3})
	tally, err := NewTallyFlow(nil, runtime.WithSubscriber(bus), runtime.WithSink(sink))
	check.Equal("tally: constructor error", err, nil)
	tres, err := tally.Execute(guard, TallyState{Number: 42})
	check.Equal("tally: error", err, nil)
	check.Equal("tally: invoice", tres.State.Invoice, Invoice{Number: 42, Cents: 3})
}

// awaiting waits until run waits for its payment with its timer set: the
// event on the bus was offered to the await and not taken.
func awaiting(run *FulfilRun, clock *runtime.FakeClock) {
	for range 10000 {
		if run.Status().Machine == runtime.WaitingState(FulfilStepPaid) && clock.Pending() > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	check.Fatalf("run never reached %s: %+v", FulfilStepPaid, run.Status())
}
