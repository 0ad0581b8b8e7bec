package main

import (
	"context"

	"github.com/flowgen/flowgen/examples/internal/demo"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// app is what the program runs: the Signup flow on a durable store, with
// fake services in the same process.
type app struct {
	store    *store.Store
	services *services
	bus      *runtime.MemoryBus
	flow     *SignupFlow
	live     *demo.Live
}

// columns lay out the program's history lines: wide enough for the
// flow's longest states.
var columns = demo.Columns{From: 27, Outcome: 60}

// openApp opens the store in dir and the services' data beside it, and
// builds the flow on them. This is the one place that chooses the
// runtime's options. live sees every event once it has been written to
// the store, before the run goes on: it prints the followed runs, and
// the crash demo kills the process there.
func openApp(dir string, live *demo.Live) (*app, error) {
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	sv, err := openServices(dir)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &app{store: st, services: sv, bus: runtime.NewMemoryBus(), live: live}
	caller := runtime.NewMemoryCaller()
	sv.register(caller)
	// The services answer over JSON (a MemoryCaller, as HTTP or NATS
	// would): the generated adapters make the flow's typed ports of it.
	f, err := NewSignupFlow(handlers{services: sv}, SignupServicesFromCaller(caller),
		runtime.WithPublisher(a.bus),
		runtime.WithSubscriber(a.bus),
		// The store first: an event is on disk (written and synced) before
		// anything else sees it. FanOut reads histories back from the store.
		runtime.WithSink(runtime.FanOut(st, live)),
	)
	if err != nil {
		st.Close()
		return nil, err
	}
	a.flow = f
	return a, nil
}

func (a *app) Close() error { return a.store.Close() }

// pay publishes the payment of a customer, as the payments service would.
func (a *app) pay(customerID string, cents int) error {
	return a.bus.Publish(context.Background(), "payments", "payment.succeeded", Payment{CustomerID: customerID, Cents: cents})
}

// payWhenAsked pays for run's customer once the run waits for the
// payment, as a customer who pays at once does; it returns when it has
// paid or the run is over.
func (a *app) payWhenAsked(run *SignupRun) error {
	if !demo.Reach(run, runtime.WaitingState(SignupStepAwaitPayment)) {
		return nil
	}
	s, err := a.flow.State(context.Background(), run.ID())
	if err != nil {
		return err
	}
	return a.pay(s.CustomerID, 900)
}
