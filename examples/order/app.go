package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

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
	out         *printer
}

// openApp opens the store in dir and wires the flow to it and to the fake
// services; die, when not nil, sees every event once it is on disk. This
// is the one place that chooses the runtime's options. The clock is a fake
// one that the program moves by hand, so that two weeks pass at once; it
// starts at the real time, so that the store's histories have real dates
// (and a restarted process's clock is never behind a sleep recorded by the
// previous one).
func openApp(dir string, w io.Writer, die func(runtime.Event)) (*app, error) {
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
		out:   &printer{w: w, live: map[string]bool{}}}
	after := runtime.SinkFunc(func(_ context.Context, e runtime.Event) error {
		a.out.event(e)
		if die != nil {
			die(e)
		}
		return nil
	})
	// The three flows share the options: the child runs of Visit and
	// CancelVisit are recorded in the same store, on the same clock.
	opts := []runtime.Option{
		runtime.WithPublisher(a.mail),
		runtime.WithClock(a.clock),
		// The store first: an event is on disk (written and synced) before
		// anything else sees it. FanOut reads histories back from the store.
		runtime.WithSink(runtime.FanOut(st, after)),
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
	for run.Status().Machine != runtime.WaitingState(OrderStepRemind) {
		select {
		case <-run.Done():
			return false
		case <-time.After(time.Millisecond):
		}
	}
	return true
}

// printer prints the transitions of the runs it is told to follow, as
// they happen.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	live map[string]bool
}

func (p *printer) follow(runID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live[runID] = true
}

// event prints e if its run is followed. A child run of a followed run
// is followed from its first event, which names its parent; its lines say
// which run they are of.
func (p *printer) event(e runtime.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Parent != nil && p.live[e.Parent.RunID] {
		p.live[e.RunID] = true
	}
	if !p.live[e.RunID] {
		return
	}
	if e.Parent != nil || isChild(e.RunID) {
		fmt.Fprintf(p.w, "%s  (child run %s)\n", transition(e), e.RunID)
		return
	}
	fmt.Fprintln(p.w, transition(e))
}

// isChild says whether runID is the ID of a child run.
func isChild(runID string) bool {
	_, _, ok := runtime.ParseChildRunID(runID)
	return ok
}

// transition is one line of a history: from, to, and how the step attempt
// that caused it ended.
func transition(e runtime.Event) string {
	line := fmt.Sprintf("  %-26s -> %s", e.From, e.To)
	if e.Outcome != "" {
		line = fmt.Sprintf("%-58s [%s]", line, e.Outcome)
	}
	if e.Error != "" {
		line += "  " + firstLine(e.Error)
	}
	return line
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// killSelf ends the process at once, as a crash or `kill -9` would: no
// deferred function runs, no file is closed.
func killSelf() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill() // SIGKILL on Unix
	}
	time.Sleep(time.Second) // the signal is on its way
	os.Exit(137)
}
