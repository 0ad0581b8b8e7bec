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

// app is what the program runs: the Signup flow on a durable store, with
// fake services in the same process.
type app struct {
	store    *store.Store
	services *services
	bus      *runtime.MemoryBus
	flow     *SignupFlow
	out      *printer
}

// openApp opens the store in dir and the services' data beside it, and
// builds the flow on them. This is the one place that chooses the
// runtime's options. die, if not nil, is called once an event has been
// written to the store, before the run goes on (the crash demo kills the
// process there).
func openApp(dir string, w io.Writer, die func(runtime.Event)) (*app, error) {
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return nil, err
	}
	sv, err := openServices(dir)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &app{store: st, services: sv, bus: runtime.NewMemoryBus(), out: &printer{w: w, live: map[string]bool{}}}
	caller := runtime.NewMemoryCaller()
	sv.register(caller)
	after := runtime.SinkFunc(func(_ context.Context, e runtime.Event) error {
		a.out.event(e)
		if die != nil {
			die(e)
		}
		return nil
	})
	// The services answer over JSON (a MemoryCaller, as HTTP or NATS
	// would): the generated adapters make the flow's typed ports of it.
	f, err := NewSignupFlow(handlers{services: sv}, SignupServicesFromCaller(caller),
		runtime.WithPublisher(a.bus),
		runtime.WithSubscriber(a.bus),
		// The store first: an event is on disk (written and synced) before
		// anything else sees it. FanOut reads histories back from the store.
		runtime.WithSink(runtime.FanOut(st, after)),
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
	for run.Status().Machine != runtime.WaitingState(SignupStepAwaitPayment) {
		select {
		case <-run.Done():
			return nil
		case <-time.After(time.Millisecond):
		}
	}
	s, err := a.flow.State(run.ID())
	if err != nil {
		return err
	}
	return a.pay(s.CustomerID, 900)
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

func (p *printer) event(e runtime.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live[e.RunID] {
		fmt.Fprintln(p.w, transition(e))
	}
}

// transition is one line of a history: from, to, and how the step attempt
// that caused it ended.
func transition(e runtime.Event) string {
	line := fmt.Sprintf("  %-27s -> %s", e.From, e.To)
	if e.Outcome != "" {
		line = fmt.Sprintf("%-60s [%s]", line, e.Outcome)
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
