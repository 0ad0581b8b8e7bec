package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/examples/internal/demo"
	"github.com/flowgen/flowgen/examples/internal/demo/demotest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

var created = []string{
	"pending -> CreateCustomer:running",
	"CreateCustomer:running -> CreateCustomer:running [retry]",
	"CreateCustomer:running -> CreateSubscription:running [ok]",
}

var succeeded = append(created,
	"CreateSubscription:running -> AwaitPayment:waiting [ok]",
	"AwaitPayment:waiting -> AwaitPayment:running",
	"AwaitPayment:running -> Activate:running [ok]",
	"Activate:running -> done [ok]",
)

// newTestApp opens the app on a new store.
func newTestApp(t *testing.T) *app {
	return demotest.Open(t, func(dir string) (*app, error) { return openApp(dir, demo.NewLive(io.Discard, columns, "")) })
}

// TestScenarios runs each scenario of the program on the durable store and
// requires exactly the transitions the flow declares (as read back from
// the store), and the services left as they should be.
func TestScenarios(t *testing.T) {
	want := map[string]struct {
		final       runtime.RunState
		transitions []string
		effects     string
		active      bool
	}{
		"success": {runtime.StateDone, succeeded,
			"customer cus-1 created once, subscription sub-1 active", true},
		"rollback": {runtime.StateCompensated, append(created,
			"CreateSubscription:running -> failing [error]",
			"failing -> CreateCustomer:rollback",
			"CreateCustomer:rollback -> failing [ok]",
			"failing -> compensated",
		), "customer cus-1 created once, then deleted, no subscription", false},
		"abort": {runtime.StateAborted, append(created,
			"CreateSubscription:running -> AwaitPayment:waiting [ok]",
			"AwaitPayment:waiting -> aborting",
			"aborting -> CreateSubscription:rollback",
			"CreateSubscription:rollback -> aborting [ok]",
			"aborting -> CreateCustomer:rollback",
			"CreateCustomer:rollback -> aborting [ok]",
			"aborting -> aborted",
		), "customer cus-1 created once, then deleted, subscription sub-1 cancelled", false},
	}
	if len(scenarios) != len(want) {
		t.Fatalf("%d scenarios, %d expectations", len(scenarios), len(want))
	}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			w := want[sc.Name]
			a := newTestApp(t)
			o, err := play(context.Background(), a, sc, "signup-"+sc.Name)
			if err != nil {
				t.Fatal(err)
			}
			if o.res.Final != w.final {
				t.Errorf("final = %s, want %s (err %v)", o.res.Final, w.final, o.res.Err)
			}
			if diff := cmp.Diff(w.transitions, demotest.Transitions(o.history)); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if got := o.effects.String(); got != w.effects {
				t.Errorf("effects = %q, want %q", got, w.effects)
			}
			if o.res.State.Active != w.active {
				t.Errorf("access = %v, want %v", o.res.State.Active, w.active)
			}
			// The store says the run is over.
			if ids, err := a.flow.Runs(context.Background(), a.store, w.final); err != nil || len(ids) != 1 || ids[0] != o.res.RunID {
				t.Errorf("runs of the store in state %s: %v, %v", w.final, ids, err)
			}
		})
	}
}

// TestOutput runs the program twice on one store and checks that it
// reports every scenario's end, both times, with runs of their own.
func TestOutput(t *testing.T) {
	demotest.Output(t, run, "Signup", 2*len(scenarios),
		"=> done\n",
		"=> compensated (step CreateSubscription: subscriptions: no plan \"gold\")",
		"=> aborted",
	)
}

// TestCommandLine checks -store and -crash-after (demotest.CommandLine).
func TestCommandLine(t *testing.T) { demotest.CommandLine(t, run) }

// TestKillAndResume runs the README's demo for real: the built program is
// started with -crash-after STEP and must die by SIGKILL right after STEP
// completed; a second start on the same store must resume the run, finish
// it, and leave exactly one customer and one subscription for it: the
// steps that completed before the kill did not run again.
func TestKillAndResume(t *testing.T) {
	demotest.KillAndResume{
		Flow: "Signup",
		// Each step of the success path, and the machine state its
		// completion leads to.
		Kills: []demotest.Kill{
			{Step: SignupStepCreateCustomer, Next: runtime.RunningState(SignupStepCreateSubscription)},
			{Step: SignupStepCreateSubscription, Next: runtime.WaitingState(SignupStepAwaitPayment)},
			{Step: SignupStepAwaitPayment, Next: runtime.RunningState(SignupStepActivate)},
		},
		End: "=> done\n     customer cus-1 created once, subscription sub-1 active, access true",
		// The run's whole history: every step completed exactly once, the
		// history replays, and the services hold one customer and one
		// subscription for it.
		Resumed: func(t *testing.T, dir string, crashed store.RunInfo, _ []runtime.Event) {
			h := demotest.StoredHistory(t, dir, crashed.RunID)
			if diff := cmp.Diff(succeeded, demotest.Transitions(h)); diff != "" {
				t.Errorf("history of the resumed run (-want +got):\n%s", diff)
			}
			if status, err := runtime.Replay(h); err != nil || status.State != runtime.StateDone {
				t.Errorf("replay: %v %v", status.State, err)
			}
			sv, err := openServices(dir)
			if err != nil {
				t.Fatal(err)
			}
			e := sv.of(crashed.RunID)
			if len(e.Customers) != 1 || e.Customers[0].Deleted || len(e.Subscriptions) != 1 || e.Subscriptions[0].Cancelled {
				t.Errorf("the services hold, for the resumed run, %+v; want one customer and one active subscription", e)
			}
		},
		Printed: readmeKillAndResume,
	}.Run(t)
}

// readmeKillAndResume checks that the README's "Kill it and watch it
// resume" shows what the two processes print for its kill, after
// CreateSubscription, on its store /tmp/signup and with its run ID (here
// dir and the crashed run's): the first output whole, the second's lines
// up to the README's "..." and from there on, up to the run's end.
func readmeKillAndResume(t *testing.T, k demotest.Kill, dir string, crashed store.RunInfo, first, second string) {
	if k.Step != SignupStepCreateSubscription {
		return // the README shows this kill
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.NewReplacer("/tmp/signup", dir, "crash-89a9415d", crashed.RunID).Replace(string(b))
	block := func(intro string) string {
		_, rest, ok := strings.Cut(readme, "\n"+intro)
		_, rest, ok2 := strings.Cut(rest, "```\n")
		out, _, ok3 := strings.Cut(rest, "```")
		if !ok || !ok2 || !ok3 {
			t.Fatalf("README.md has no output block after %q", intro)
		}
		return out
	}
	if want := block("The first command starts a signup"); first != want {
		t.Errorf("the first process prints:\n%s\nthe README shows:\n%s", first, want)
	}
	want := block("The second finds the unfinished run")
	head, tail, ok := strings.Cut(want, "  ...\n")
	if !ok {
		t.Fatalf("the README's second output has no elided lines:\n%s", want)
	}
	if !strings.HasPrefix(second, head) || !strings.Contains(second[len(head):], tail) {
		t.Errorf("the second process prints:\n%s\nthe README shows:\n%s", second, want)
	}
}
