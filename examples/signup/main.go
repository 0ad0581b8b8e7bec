// Command signup runs the Signup flow of signup.flow (the flow of the
// README) against fake services in the same process, three times: a
// customer who pays, a plan that does not exist (the customer already
// created is deleted again), and a signup aborted while it waits for the
// payment. It prints every transition of each run.
//
//	go run ./examples/signup
package main

//go:generate go run github.com/flowgen/flowgen/cmd/flowgen signup.flow

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// scenario is one run of the flow, started on a fresh app.
type scenario struct {
	name, about string
	run         func(ctx context.Context, a *app, id string) (runtime.Result[SignupState], error)
}

var ada = SignupState{Customer: Customer{Name: "ada", Email: "ada@example.com"}, Plan: "pro"}

var scenarios = []scenario{
	{"success", "Ada signs up for the pro plan and pays.", success},
	{"rollback", "Ada asks for a plan that does not exist: the customer is deleted again.", rollback},
	{"abort", "Ada's signup is aborted while it waits for her payment.", abort},
}

func success(ctx context.Context, a *app, id string) (runtime.Result[SignupState], error) {
	// The payment may come before the flow waits for it: the bus keeps it.
	if err := a.pay("cus-ada", 900); err != nil {
		return runtime.Result[SignupState]{}, err
	}
	return a.flow.Execute(ctx, ada, runtime.WithRunID(id))
}

func rollback(ctx context.Context, a *app, id string) (runtime.Result[SignupState], error) {
	s := ada
	s.Plan = "gold"
	return a.flow.Execute(ctx, s, runtime.WithRunID(id))
}

func abort(ctx context.Context, a *app, id string) (runtime.Result[SignupState], error) {
	run, err := a.flow.Start(ctx, ada, runtime.WithRunID(id))
	if err != nil {
		return runtime.Result[SignupState]{}, err
	}
	// Nobody pays: wait until the run waits, then abort it.
	for run.Status().Machine != runtime.RunningState(SignupStepAwaitPayment) {
		select {
		case <-run.Done():
			return run.Wait(ctx)
		case <-time.After(time.Millisecond):
		}
	}
	if err := run.Abort(); err != nil {
		return runtime.Result[SignupState]{}, err
	}
	return run.Wait(ctx)
}

// outcome is what a scenario did: the run's result and history, and what
// the fake services hold afterwards.
type outcome struct {
	res           runtime.Result[SignupState]
	history       []runtime.Event
	customers     []string
	subscriptions []string
}

// play runs sc on a fresh app.
func play(ctx context.Context, sc scenario) (outcome, error) {
	a, err := newApp()
	if err != nil {
		return outcome{}, err
	}
	res, _ := sc.run(ctx, a, "signup-"+sc.name) // res.Err says how a run that is not done ended
	if res.RunID == "" {
		return outcome{}, fmt.Errorf("%s: the run did not start", sc.name)
	}
	// The history as the sink recorded it (Status reads it back).
	st, err := a.flow.Status(res.RunID)
	return outcome{res, st.History, a.customers.list(), a.subscriptions.list()}, err
}

func main() {
	if err := runAll(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "signup:", err)
		os.Exit(1)
	}
}

func runAll(ctx context.Context, w io.Writer) error {
	for _, sc := range scenarios {
		o, err := play(ctx, sc)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %s\n", sc.name, sc.about)
		printHistory(w, o.history)
		fmt.Fprintf(w, "  => %s", o.res.Final)
		if o.res.Err != nil {
			fmt.Fprintf(w, " (%v)", firstLine(o.res.Err.Error()))
		}
		fmt.Fprintf(w, "\n     customers %v, subscriptions %v, access %v\n\n", o.customers, o.subscriptions, o.res.State.Active)
	}
	return nil
}

// printHistory prints one line per transition: from, to, and how the step
// attempt that caused it ended.
func printHistory(w io.Writer, history []runtime.Event) {
	width := 0
	for _, e := range history {
		width = max(width, len(e.From))
	}
	for _, e := range history {
		line := fmt.Sprintf("  %-*s -> %s", width, e.From, e.To)
		if e.Outcome != "" {
			line += "  [" + e.Outcome + "]"
		}
		if e.Error != "" {
			line += "  " + firstLine(e.Error)
		}
		fmt.Fprintln(w, line)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
