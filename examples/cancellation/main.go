// Command cancellation runs the Cancel flow of cancellation.flow on a
// durable store, against a fake shop in the same process: an unpaid order,
// a paid order whose refund settles, a paid order whose refund does not
// settle within a day (the await times out, on a fake clock, and support
// is asked to chase it), and a shipped order that cannot be cancelled. A
// Go step's named outcomes choose the way. It prints every transition of
// each run, read back from the store.
//
// On start it resumes every run the store holds that is not over.
//
//	go run ./examples/cancellation                  # a new store in a temporary directory, removed at exit
//	go run ./examples/cancellation -store /tmp/cancel
package main

//go:generate go run github.com/flowgen/flowgen/cmd/flowgen cancellation.flow

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/flowgen/flowgen/examples/internal/demo"
	"github.com/flowgen/flowgen/runtime"
)

// scenario is the cancellation of one order.
type scenario struct {
	order, about string
}

var scenarios = []scenario{
	{"o-unpaid", "an unpaid order is closed at once"},
	{"o-paid", "a paid order is refunded, the refund settles, the order is closed"},
	{"o-slow", "the refund does not settle within a day: support is told, the order is closed"},
	{"o-shipped", "a shipped order cannot be cancelled"},
}

// outcome is what a run did.
type outcome struct {
	res       runtime.Result[CancelState]
	history   []runtime.Event
	published []string
}

// play cancels sc's order as run id. The run is started rather than
// executed so that, while it waits for a settlement, the example can move
// the fake clock a day on.
func play(ctx context.Context, a *app, sc scenario, id string) (outcome, error) {
	run, err := a.flow.Start(ctx, CancelState{OrderID: sc.order}, runtime.WithRunID(id))
	if err != nil {
		return outcome{}, err
	}
	res, _ := a.finish(ctx, run) // res.Err says how a run that is not done ended
	return a.outcome(ctx, res)
}

// outcome reads a finished run back from the store.
func (a *app) outcome(ctx context.Context, res runtime.Result[CancelState]) (outcome, error) {
	h, err := a.flow.History(ctx, res.RunID)
	return outcome{res, h, a.published(res.State.OrderID)}, err
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// program is the command line: -store.
var program = demo.Program{Name: "cancellation"}

// run is the program: it returns the exit status (2 for a usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return program.Main(args, stdout, stderr, func(dir string, _ *demo.Live) error {
		a, err := openApp(dir)
		if err != nil {
			return err
		}
		defer a.Close()
		fmt.Fprintf(stdout, "store %s\n\n", dir)
		return runAll(ctx, a, stdout)
	})
}

// runAll resumes the store's unfinished runs, then cancels each order.
func runAll(ctx context.Context, a *app, w io.Writer) error {
	runs, err := a.flow.ResumeAll(ctx, a.store)
	if err != nil {
		// The runs it names are left as they are; the others go on.
		fmt.Fprintln(w, "some runs could not be resumed:", err)
	}
	for _, r := range runs {
		res, _ := a.finish(ctx, r)
		o, err := a.outcome(ctx, res)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "run %s, resumed from the store:\n", r.ID())
		report(w, o)
	}
	tag := demo.RunTag()
	for _, sc := range scenarios {
		o, err := play(ctx, a, sc, "cancel-"+sc.order+"-"+tag)
		if err != nil {
			return err
		}
		demo.Announce(w, sc.order, o.res.RunID, sc.about)
		report(w, o)
	}
	return nil
}

// report prints a run's history, how it ended and what it published.
func report(w io.Writer, o outcome) {
	demo.PrintHistory(w, o.history)
	demo.Ended(w, o.res)
	fmt.Fprintf(w, "\n     published %v\n\n", o.published)
}
