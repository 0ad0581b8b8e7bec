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
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/flowgen/flowgen/examples/internal/storedir"
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

// run is the program: it returns the exit status (2 for a usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cancellation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	store := storedir.Flag(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cancellation: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	dir, err := storedir.Open("cancellation", *store)
	if err != nil {
		fmt.Fprintln(stderr, "cancellation:", err)
		return 1
	}
	// Removed after the store is closed (the defers run in reverse).
	defer dir.Remove()
	a, err := openApp(dir.Path)
	if err != nil {
		fmt.Fprintln(stderr, "cancellation:", err)
		return 1
	}
	defer a.Close()
	fmt.Fprintf(stdout, "store %s\n\n", dir.Path)
	if err := runAll(ctx, a, stdout); err != nil {
		fmt.Fprintln(stderr, "cancellation:", err)
		return 1
	}
	dir.Farewell(stdout)
	return 0
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
	tag := runTag()
	for _, sc := range scenarios {
		o, err := play(ctx, a, sc, "cancel-"+sc.order+"-"+tag)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s (run %s): %s\n", sc.order, o.res.RunID, sc.about)
		report(w, o)
	}
	return nil
}

// report prints a run's history, how it ended and what it published.
func report(w io.Writer, o outcome) {
	printHistory(w, o.history)
	fmt.Fprintf(w, "  => %s", o.res.Final)
	if o.res.Err != nil {
		fmt.Fprintf(w, " (%v)", firstLine(o.res.Err.Error()))
	}
	fmt.Fprintf(w, "\n     published %v\n\n", o.published)
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

// runTag tells this process's runs from earlier ones in the same store.
func runTag() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprint(time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}
