// Command signup runs the Signup flow of signup.flow (the flow of the
// README) on a durable store, against fake services in the same process.
//
// On start it resumes every run the store holds that is not over (a
// previous process died during it), then runs three signups: a customer
// who pays, a plan that does not exist (the customer already created is
// deleted again), and a signup aborted while it waits for the payment. It
// prints every transition.
//
//	go run ./examples/signup                  # a new store in a temporary directory, removed at exit
//	go run ./examples/signup -store /tmp/signup
//
// Kill and resume: with -crash-after STEP the program starts one signup
// and kills itself (SIGKILL) as soon as the run has completed STEP and
// that is on disk. Run it again on the same store and it resumes the run
// where it was: the completed steps do not run again.
//
//	go run ./examples/signup -store /tmp/signup -crash-after CreateSubscription
//	go run ./examples/signup -store /tmp/signup
//
// -crash-after needs -store: the second run resumes from that store, and a
// temporary one would be left behind by the kill.
//
// The fake services keep their data in services.json beside the store's
// files, so the second process sees the customer the first one created.
package main

//go:generate go run github.com/flowgen/flowgen/cmd/flowgen signup.flow

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/flowgen/flowgen/examples/internal/demo"
	"github.com/flowgen/flowgen/runtime"
)

// scenario is one signup.
type scenario struct {
	demo.Scenario
	run func(ctx context.Context, a *app, id string) (runtime.Result[SignupState], error)
}

var ada = SignupState{Customer: Customer{Name: "ada", Email: "ada@example.com"}, Plan: "pro"}

var scenarios = []scenario{
	{demo.Scenario{Name: "success", About: "Ada signs up for the pro plan and pays."}, success},
	{demo.Scenario{Name: "rollback", About: "Ada asks for a plan that does not exist: the customer is deleted again."}, rollback},
	{demo.Scenario{Name: "abort", About: "Ada's signup is aborted while it waits for her payment."}, abort},
}

// crash is the signup that -crash-after interrupts: the success scenario.
var crash = scenario{demo.Scenario{Name: "crash", About: "Ada signs up for the pro plan and pays; the process dies on the way."}, success}

func success(ctx context.Context, a *app, id string) (runtime.Result[SignupState], error) {
	run, err := a.flow.Start(ctx, ada, runtime.WithRunID(id))
	if err != nil {
		return runtime.Result[SignupState]{}, err
	}
	if err := a.payWhenAsked(run); err != nil {
		return runtime.Result[SignupState]{}, err
	}
	return run.Wait(ctx)
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
	if !demo.Reach(run, runtime.WaitingState(SignupStepAwaitPayment)) {
		return run.Wait(ctx)
	}
	if err := run.Abort(); err != nil {
		return runtime.Result[SignupState]{}, err
	}
	return run.Wait(ctx)
}

// outcome is what a run did: its result and history, and what the fake
// services hold of it afterwards.
type outcome struct {
	res     runtime.Result[SignupState]
	history []runtime.Event
	effects effects
}

// History is the run's history, read back from the store.
func (o outcome) History() []runtime.Event { return o.history }

// Report prints how the run ended and what it did to the services.
func (o outcome) Report(w io.Writer) {
	demo.Ended(w, o.res)
	fmt.Fprintf(w, "\n     %s, access %v\n\n", o.effects, o.res.State.Active)
}

// play runs sc on a as run id.
func play(ctx context.Context, a *app, sc scenario, id string) (outcome, error) {
	res, err := sc.run(ctx, a, id)
	if res.RunID == "" {
		return outcome{}, fmt.Errorf("%s: the run did not start: %w", sc.Name, err)
	}
	return a.outcome(ctx, res)
}

// outcome reads a finished run back from the store.
func (a *app) outcome(ctx context.Context, res runtime.Result[SignupState]) (outcome, error) {
	h, err := a.flow.History(ctx, res.RunID)
	return outcome{res, h, a.services.of(res.RunID)}, err
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// program is the command line: -store and -crash-after.
var program = demo.Program{Name: "signup", CrashAfter: "start one signup and kill the process once it has completed `STEP` and that is on disk", Columns: columns}

// run is the program: it returns the exit status (2 for a usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return program.Main(args, stdout, stderr, func(dir string, live *demo.Live) error {
		a, err := openApp(dir, live)
		if err != nil {
			return err
		}
		defer a.Close()
		var steps []string
		for _, s := range a.flow.Runtime().Steps() {
			steps = append(steps, s.ID)
		}
		if err := live.CheckStep(steps, "Signup"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "store %s\n\n", dir)
		return runAll(ctx, a)
	})
}

// runAll resumes the runs that a previous process left unfinished in
// the store (the flow's ResumeAll), then runs the crash signup (with
// -crash-after) or the scenarios.
func runAll(ctx context.Context, a *app) error {
	err := demo.Resume(ctx, a.live, a.flow, a.store, a.flow.ResumeAll, func(r *SignupRun) (outcome, error) {
		// A resumed signup pays as the scenario's customer would.
		if err := a.payWhenAsked(r); err != nil {
			return outcome{}, err
		}
		res, _ := r.Wait(ctx) // res.Err says how a run that is not done ended
		return a.outcome(ctx, res)
	})
	if err != nil {
		return err
	}
	return demo.Play(a.live, scenarios, crash, func(sc scenario, id string) (outcome, error) { return play(ctx, a, sc, id) })
}
