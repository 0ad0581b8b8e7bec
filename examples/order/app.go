package main

import (
	"context"
	"time"

	"github.com/flowgen/flowgen/examples/internal/demo"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// app is the shop in one process: the services, a mailer, a clock, and flow
// Order (with the flows it calls) on them, recording every transition in a durable store.
type app struct {
	store *store.Store
	world *world
	mail  *mailer
	clock *runtime.FakeClock
	flow  *OrderFlow
	// visit and cancelVisit are the flows that Order calls: each of their
	// runs is a child run of an order.
	visit       *VisitFlow
	cancelVisit *CancelVisitFlow
	live        *demo.Live
}

// columns lay out the program's history lines: wide enough for the
// flows' longest states.
var columns = demo.Columns{From: 26, Outcome: 58}

// openApp opens the store in dir and wires the flow to it and to the fake
// services; live sees every event once it is on disk (it prints the
// followed runs, and the crash demo kills the process there). This
// is the one place that chooses the runtime's options. The clock is a fake
// one that the program moves by hand, so that two weeks pass at once; it
// starts at the real time, so that the store's histories have real dates
// (and a restarted process's clock is never behind a sleep recorded by the
// previous one).
func openApp(dir string, live *demo.Live) (*app, error) {
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	wd, err := openWorld(dir)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &app{store: st, world: wd, mail: &mailer{},
		clock: runtime.NewFakeClock(time.Now().UTC().Truncate(time.Second)),
		live:  live}
	// The three flows share the options: the child runs of Visit and
	// CancelVisit are recorded in the same store, on the same clock.
	opts := []runtime.Option{
		runtime.WithPublisher(a.mail),
		runtime.WithClock(a.clock),
		// The store first: an event is on disk (written and synced) before
		// anything else sees it. FanOut reads histories back from the store.
		runtime.WithSink(runtime.FanOut(st, live)),
	}
	// The services are typed ports in Go; the flows have no Go steps (nil
	// handlers). The callees first: Order's constructor takes them.
	if a.visit, err = NewVisitFlow(nil, wd.visitServices(), opts...); err == nil {
		if a.cancelVisit, err = NewCancelVisitFlow(nil, wd.cancelVisitServices(), opts...); err == nil {
			a.flow, err = NewOrderFlow(nil, wd.services(), a.visit, a.cancelVisit, opts...)
		}
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) Close() error { return a.store.Close() }

// finish waits for run to end. While the run sleeps in Remind, it moves
// the fake clock on to the wake-up time the run recorded, so that the
// sleep ends at once. Only up to that time, and so only once: a status
// read just before the run woke still says it sleeps, and moving the
// clock on again then would time out Notify's attempt, which runs on the
// same clock.
func (a *app) finish(ctx context.Context, run *OrderRun) (runtime.Result[OrderState], error) {
	for {
		select {
		case <-run.Done():
			return run.Wait(ctx)
		case <-time.After(time.Millisecond):
		}
		st := run.Status()
		if st.Machine != runtime.WaitingState(OrderStepRemind) || st.Wait == nil || a.clock.Pending() == 0 {
			continue
		}
		if d := st.Wait.Until.Sub(a.clock.Now()); d > 0 {
			a.clock.Advance(d)
		}
	}
}

// asleep waits until run sleeps in Remind; false when it ended first.
func asleep(run *OrderRun) bool {
	return demo.Reach(run, runtime.WaitingState(OrderStepRemind))
}
