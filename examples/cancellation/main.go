// Command cancellation runs the Cancel flow of cancellation.flow against a
// fake shop in the same process: an unpaid order, a paid order whose
// refund settles, a paid order whose refund does not settle within a day
// (the await times out, on a fake clock, and support is asked to chase it),
// and a shipped order that cannot be cancelled. A Go step's named outcomes
// choose the way. It prints every transition of each run.
//
//	go run ./examples/cancellation
package main

//go:generate go run github.com/flowgen/flowgen/cmd/flowgen cancellation.flow

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// scenario is the cancellation of one order on a fresh app.
type scenario struct {
	order, about string
}

var scenarios = []scenario{
	{"o-unpaid", "an unpaid order is closed at once"},
	{"o-paid", "a paid order is refunded, the refund settles, the order is closed"},
	{"o-slow", "the refund does not settle within a day: support is told, the order is closed"},
	{"o-shipped", "a shipped order cannot be cancelled"},
}

// outcome is what a scenario did.
type outcome struct {
	res       runtime.Result[CancelState]
	history   []runtime.Event
	published []string
}

// play cancels sc's order on a fresh app. The run is started rather than
// executed so that, while it waits for a settlement, the example can move
// the fake clock a day on.
func play(ctx context.Context, sc scenario) (outcome, error) {
	a, err := newApp()
	if err != nil {
		return outcome{}, err
	}
	run, err := a.flow.Start(ctx, CancelState{OrderID: sc.order}, runtime.WithRunID("cancel-"+sc.order))
	if err != nil {
		return outcome{}, err
	}
	waitingForRefund := func() bool {
		return run.Status().Machine == runtime.RunningState(CancelStepAwaitRefund) && a.clock.Pending() > 0
	}
	for !waitingForRefund() {
		select {
		case <-run.Done():
		case <-time.After(time.Millisecond):
			continue
		}
		break
	}
	if waitingForRefund() {
		a.clock.Advance(24 * time.Hour)
	}
	res, _ := run.Wait(ctx) // res.Err says how a run that is not done ended
	st, err := a.flow.Status(res.RunID)
	return outcome{res, st.History, a.published()}, err
}

func main() {
	if err := runAll(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cancellation:", err)
		os.Exit(1)
	}
}

func runAll(ctx context.Context, w io.Writer) error {
	for _, sc := range scenarios {
		o, err := play(ctx, sc)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %s\n", sc.order, sc.about)
		printHistory(w, o.history)
		fmt.Fprintf(w, "  => %s", o.res.Final)
		if o.res.Err != nil {
			fmt.Fprintf(w, " (%v)", firstLine(o.res.Err.Error()))
		}
		fmt.Fprintf(w, "\n     published %v\n\n", o.published)
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
