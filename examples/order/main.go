// Command order runs the Order flow of order.flow on a durable store,
// against fake services in the same process. It shows each construct of
// the flow: a parallel block (the stock reserved and the card authorised
// at the same time), typed service ports (rpc), a decision on the state
// (choose), another flow run as a child run (call: the concierge's visit), a
// durable two-week timer (sleep, on a fake clock that the program moves),
// a publication, and the rollbacks that undo what was done when a step
// fails or the run is aborted.
//
// On start it resumes every run the store holds that is not over (a
// previous process died during it), then places one order per scenario:
// the three ways an order goes (standard post, express, a concierge), a
// failure at each step that can fail, and an order aborted while it
// sleeps. It prints every transition.
//
//	go run ./examples/order                  # a new store in a temporary directory, removed at exit
//	go run ./examples/order -store /tmp/order
//
// Kill and resume: with -crash-after STEP the program places one order and
// kills itself (SIGKILL) as soon as the run has completed STEP and that is
// on disk. Run it again on the same store and it resumes the run where it
// was: completed steps do not run again, a branch of the parallel block
// still in flight runs again with the same idempotency key, and a sleep
// goes on to the time recorded before the crash. The order is a
// concierge one, and STEP may be a branch (-crash-after AuthorizeCard dies
// inside the block) or a step of the child run (-crash-after Book dies
// inside the visit: the resumed order finds the same child and resumes it,
// it does not start a second one).
//
//	go run ./examples/order -store /tmp/order -crash-after Book
//	go run ./examples/order -store /tmp/order
//
// -crash-after needs -store: the second run resumes from that store, and a
// temporary one would be left behind by the kill.
//
// The fake services keep their data in services.json beside the store's
// files, so the second process sees what the first one did.
package main

//go:generate go run github.com/flowgen/flowgen/cmd/flowgen order.flow

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/flowgen/flowgen/examples/internal/demo"
	"github.com/flowgen/flowgen/runtime"
)

// scenario is one order.
type scenario struct {
	demo.Scenario
	order OrderState
	abort bool // abort the run while it sleeps in Remind
}

// ann's order goes by standard post; the scenarios change what they need.
var ann = with(func(*OrderState) {})

// with returns ann's order changed by fn. A concierge visits the order's
// contact: the state passed to flow Visit carries it.
func with(fn func(s *OrderState)) OrderState {
	s := OrderState{
		Items:   []Item{{SKU: "book", Quantity: 2}},
		Card:    Card{Number: "4242 4242 4242 4242", Amount: 40},
		Contact: Contact{Name: "Ann", Email: "ann@example.com"},
		Parcel:  Parcel{Address: "1 Main St", Kilos: 1.2},
		Tier:    "silver",
		Total:   40,
	}
	fn(&s)
	s.Visit.Contact = s.Contact
	return s
}

var scenarios = []scenario{
	{demo.Scenario{Name: "standard", About: "Ann's order goes by standard post; two weeks later she is asked how it went."}, ann, false},
	{demo.Scenario{Name: "express", About: "Ann pays for express shipping."}, with(func(s *OrderState) { s.Express = true }), false},
	{demo.Scenario{Name: "concierge", About: "A gold customer's order over 100 EUR is delivered by a concierge, booked by a child run."}, with(func(s *OrderState) {
		s.Tier, s.Total, s.Card.Amount = "gold", 150, 150
	}), false},
	{demo.Scenario{Name: "no-stock", About: "Nobody has a unicorn in stock: the card, authorised meanwhile, is voided."}, with(func(s *OrderState) {
		s.Items = []Item{{SKU: "unicorn", Quantity: 1}}
	}), false},
	{demo.Scenario{Name: "declined", About: "The card is declined once the stock is reserved: the stock is released."}, with(func(s *OrderState) { s.Card.Number = declined }), false},
	{demo.Scenario{Name: "no-concierge", About: "No concierge is free: the child run fails, the card is voided and the stock released."}, with(func(s *OrderState) {
		s.Tier, s.Total, s.Card.Amount, s.Contact.Name = "gold", 150, 150, "Nobody"
	}), false},
	{demo.Scenario{Name: "no-express", About: "Express cannot reach Atlantis: the card is voided and the stock released."}, with(func(s *OrderState) {
		s.Express, s.Parcel.Address = true, "Atlantis"
	}), false},
	{demo.Scenario{Name: "no-route", About: "Standard post cannot reach Atlantis either."}, with(func(s *OrderState) { s.Parcel.Address = "Atlantis" }), false},
	{demo.Scenario{Name: "mailbox-full", About: "The reminder cannot be sent: what can be undone is (the parcel has left)."}, with(func(s *OrderState) {
		s.Contact.Email = "full@example.com"
	}), false},
	{demo.Scenario{Name: "concierge-mailbox-full", About: "A gold customer's reminder cannot be sent: the concierge's visit is cancelled in a child run, the card voided, the stock released."}, with(func(s *OrderState) {
		s.Tier, s.Total, s.Card.Amount, s.Contact.Email = "gold", 150, 150, "full@example.com"
	}), false},
	{demo.Scenario{Name: "abort", About: "The order is aborted while it sleeps: the card is voided and the stock released."}, ann, true},
}

// crash is the order that -crash-after interrupts: a concierge order, whose
// run goes through every construct (the parallel block, the choose, the
// child run of Visit, the sleep, the publication).
var crash = scenario{demo.Scenario{Name: "crash", About: "A gold customer's order, delivered by a concierge; the process dies on the way."}, with(func(s *OrderState) {
	s.Tier, s.Total, s.Card.Amount = "gold", 150, 150
}), false}

// outcome is what a run did: its result and history, and what the fake
// services hold of it afterwards.
type outcome struct {
	res       runtime.Result[OrderState]
	history   []runtime.Event
	effects   effects
	reminders int
}

// History is the run's history, read back from the store.
func (o outcome) History() []runtime.Event { return o.history }

// Report prints how the run ended, what it did to the services, and the
// reminders it sent.
func (o outcome) Report(w io.Writer) {
	demo.Ended(w, o.res)
	fmt.Fprintf(w, "\n     %s; %d reminder(s) sent\n\n", o.effects, o.reminders)
}

// play places sc's order as run id.
func play(ctx context.Context, a *app, sc scenario, id string) (outcome, error) {
	run, err := a.flow.Start(ctx, sc.order, runtime.WithRunID(id))
	if err != nil {
		return outcome{}, fmt.Errorf("%s: the run did not start: %w", sc.Name, err)
	}
	var res runtime.Result[OrderState] // res.Err says how a run that is not done ended
	if sc.abort && asleep(run) {
		if err := run.Abort(); err != nil {
			return outcome{}, err
		}
		// Not finish: it moves the clock on while the run still looks
		// asleep, which, with the abort already under way, would time out
		// the rollbacks' attempts (their timeouts are on the same clock).
		res, _ = run.Wait(ctx)
	} else {
		res, _ = a.finish(ctx, run)
	}
	return a.outcome(ctx, res)
}

// outcome reads a finished run back from the store.
func (a *app) outcome(ctx context.Context, res runtime.Result[OrderState]) (outcome, error) {
	h, err := a.flow.History(ctx, res.RunID)
	return outcome{res, h, a.world.of(res.RunID), a.mail.reminders(res.RunID)}, err
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// program is the command line: -store and -crash-after.
var program = demo.Program{Name: "order", CrashAfter: "place one order and kill the process once it has completed `STEP` and that is on disk", Columns: columns}

// run is the program: it returns the exit status (2 for a usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return program.Main(args, stdout, stderr, func(dir string, live *demo.Live) error {
		a, err := openApp(dir, live)
		if err != nil {
			return err
		}
		defer a.Close()
		if err := live.CheckStep(crashSteps(a), "Order", "Visit", "CancelVisit"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "store %s\n\n", dir)
		return runAll(ctx, a)
	})
}

// crashSteps are the steps -crash-after can follow. A step completes by
// leaving its running state, which a block has not (its branches do).
// The steps of the flows Order calls count too: -crash-after Book dies
// inside the child run.
func crashSteps(a *app) []string {
	var ids []string
	for _, s := range a.flow.Runtime().Steps() {
		if len(s.Branches) == 0 {
			ids = append(ids, s.ID)
		}
		for _, b := range s.Branches {
			ids = append(ids, b.ID)
		}
	}
	for _, s := range slices.Concat(a.visit.Runtime().Steps(), a.cancelVisit.Runtime().Steps()) {
		ids = append(ids, s.ID)
	}
	return ids
}

// runAll resumes the runs that a previous process left unfinished in
// the store (the flow's ResumeAll) and takes each to its end, then places
// the crash order (with -crash-after) or the scenarios' orders.
func runAll(ctx context.Context, a *app) error {
	err := demo.Resume(ctx, a.live, a.flow, a.store, a.flow.ResumeAll, func(r *OrderRun) (outcome, error) {
		res, _ := a.finish(ctx, r) // res.Err says how a run that is not done ended
		return a.outcome(ctx, res)
	})
	if err != nil {
		return err
	}
	return demo.Play(a.live, scenarios, crash, func(sc scenario, id string) (outcome, error) { return play(ctx, a, sc, id) })
}
