package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Shipping is the state of the example's runs.
type Shipping struct {
	OrderID string `json:"order_id"`
	Carrier string `json:"carrier,omitempty"`
}

// Example embeds a flow on a durable store, as a service does each time it
// starts: open the store, build the flow with the store as its sink,
// resume the runs a previous process left before starting new ones, and
// on shutdown suspend the runs before closing the store. Here a run waits
// for an event when the first process stops (a SIGKILL would leave the
// same history: the wait is recorded before Start returns), and the second
// process resumes it from the store, still waiting, and delivers the event.
// A generated flow is used the same way: NewXFlow(h, svc,
// runtime.WithSink(st), ...) and its ResumeAll and SuspendAll.
func Example() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// process is one life of the service: act runs once the runs a previous
	// life left are resumed, and the shutdown follows.
	process := func(act func(*runtime.Flow[Shipping], *runtime.MemoryBus, []*runtime.Run[Shipping])) {
		st, err := store.Open(dir, store.Options{})
		if err != nil {
			log.Fatal(err)
		}
		defer st.Close()              // after SuspendAll: a run that records an event into a closed store fails
		bus := runtime.NewMemoryBus() // a test's bus; a service's Subscriber keeps events durably (an engine's inbox)
		flow := runtime.New[Shipping]("Shipping", runtime.WithSink(st), runtime.WithSubscriber(bus))
		err = flow.Register(runtime.NewAwait("shipping", "order.shipped",
			func(s *Shipping) any { return s },
			func(s *Shipping) string { return s.OrderID }, // taken only with this order_id
			72*time.Hour, runtime.WithCorrelationField[Shipping]("order_id"), runtime.WithID[Shipping]("AwaitShipment")))
		if err != nil {
			log.Fatal(err)
		}
		runs, err := flow.ResumeAll(ctx, st) // before new runs
		if err != nil {
			log.Print(err) // the runs it could not resume, each named; the others run
		}
		act(flow, bus, runs)
		if err := flow.SuspendAll(ctx); err != nil { // on shutdown: ResumeAll continues them
			log.Fatal(err)
		}
	}

	process(func(flow *runtime.Flow[Shipping], _ *runtime.MemoryBus, _ []*runtime.Run[Shipping]) {
		run, err := flow.Start(ctx, Shipping{OrderID: "o-1"}, runtime.WithRunID("o-1"))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("first process:", run.Status().Machine)
	})
	process(func(flow *runtime.Flow[Shipping], bus *runtime.MemoryBus, resumed []*runtime.Run[Shipping]) {
		fmt.Println("second process resumed", len(resumed), "run:", resumed[0].ID(), resumed[0].Status().Machine)
		if err := bus.Publish(ctx, "shipping", "order.shipped", Shipping{OrderID: "o-1", Carrier: "ups"}); err != nil {
			log.Fatal(err)
		}
		res, err := resumed[0].Wait(ctx)
		fmt.Println(res.Final, res.State.Carrier, err)
		h, err := flow.History(ctx, "o-1")
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range h {
			fmt.Println(" ", e.From, "->", e.To)
		}
	})
	// Output:
	// first process: AwaitShipment:waiting
	// second process resumed 1 run: o-1 AwaitShipment:waiting
	// done ups <nil>
	//   pending -> AwaitShipment:waiting
	//   AwaitShipment:waiting -> AwaitShipment:running
	//   AwaitShipment:running -> done
}
