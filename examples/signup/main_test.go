package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/examples/internal/storedir/storedirtest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// transitions renders a history as "from -> to [outcome]" lines.
func transitions(history []runtime.Event) []string {
	var out []string
	for _, e := range history {
		line := e.From + " -> " + e.To
		if e.Outcome != "" {
			line += " [" + e.Outcome + "]"
		}
		out = append(out, line)
	}
	return out
}

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
	t.Helper()
	a, err := openApp(t.TempDir(), io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
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
		t.Run(sc.name, func(t *testing.T) {
			w := want[sc.name]
			a := newTestApp(t)
			o, err := play(context.Background(), a, sc, "signup-"+sc.name)
			if err != nil {
				t.Fatal(err)
			}
			if o.res.Final != w.final {
				t.Errorf("final = %s, want %s (err %v)", o.res.Final, w.final, o.res.Err)
			}
			if diff := cmp.Diff(w.transitions, transitions(o.history)); diff != "" {
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
	dir := t.TempDir()
	for i := range 2 {
		var out, errs bytes.Buffer
		if code := run(context.Background(), []string{"-store", dir}, &out, &errs); code != 0 {
			t.Fatalf("exit %d: %s", code, errs.String())
		}
		for _, s := range []string{
			"store " + dir + "\n",
			"=> done\n",
			"=> compensated (step CreateSubscription: subscriptions: no plan \"gold\")",
			"=> aborted",
		} {
			if !strings.Contains(out.String(), s) {
				t.Errorf("run %d: output lacks %q:\n%s", i+1, s, out.String())
			}
		}
		if strings.Contains(out.String(), "resum") {
			t.Errorf("run %d resumed something, but every run had ended:\n%s", i+1, out.String())
		}
	}
	st, err := store.OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if runs, _ := st.List(store.Filter{Flow: "Signup"}); len(runs) != 6 {
		t.Errorf("the store holds %d runs, want 6", len(runs))
	}
}

// Without -store the program runs on a new store in a temporary directory,
// and removes it at exit.
func TestTemporaryStoreRemoved(t *testing.T) { storedirtest.TemporaryStoreRemoved(t, run) }

// -crash-after without -store is a usage error, before any store is made.
func TestCrashAfterNeedsStore(t *testing.T) { storedirtest.CrashAfterNeedsStore(t, run) }

// TestUsage: bad flags exit 2.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-store", t.TempDir(), "-crash-after", "Nope"}} {
		var out, errs bytes.Buffer
		if code := run(context.Background(), args, &out, &errs); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errs.String())
		}
	}
}

// TestKillAndResume runs the README's demo for real: the built program is
// started with -crash-after STEP and must die by SIGKILL right after STEP
// completed; a second start on the same store must resume the run, finish
// it, and leave exactly one customer and one subscription for it: the
// steps that completed before the kill did not run again.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program with the go command")
	}
	bin := filepath.Join(t.TempDir(), "signup")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Each step of the success path, and the machine state its completion
	// leads to.
	for _, c := range []struct{ step, next string }{
		{SignupStepCreateCustomer, runtime.RunningState(SignupStepCreateSubscription)},
		{SignupStepCreateSubscription, runtime.WaitingState(SignupStepAwaitPayment)},
		{SignupStepAwaitPayment, runtime.RunningState(SignupStepActivate)},
	} {
		step := c.step
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, "-store", dir, "-crash-after", step)
			out, err := cmd.Output()
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatalf("the first run did not die: %v\n%s", err, out)
			}
			if goruntime.GOOS != "windows" && ee.ProcessState.String() != "signal: killed" {
				t.Errorf("the first run ended %q, want killed by SIGKILL", ee.ProcessState)
			}
			// It died right after step's completion: the last transition
			// printed leaves step, and nothing came after the kill notice.
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if n := len(lines); n < 2 || !strings.Contains(lines[n-1], "the process kills itself") ||
				!strings.HasPrefix(strings.TrimSpace(lines[n-2]), runtime.RunningState(step)+" ") {
				t.Errorf("the first run's output does not end with %s's completion and the kill:\n%s", step, out)
			}

			// What the store says before the restart: one run, not over
			// (running, or waiting for the payment), whose last event is
			// step's completion.
			crashed := storedRun(t, dir)
			if want, _ := runtime.RunStateOf(c.next); crashed.State != want || crashed.Machine != c.next {
				t.Fatalf("stored run before the restart: %+v", crashed)
			}

			out, err = exec.Command(bin, "-store", dir).Output()
			if err != nil {
				t.Fatalf("the second run: %v\n%s", err, out)
			}
			for _, s := range []string{
				"The store holds 1 unfinished run(s): resuming them.",
				"run " + crashed.RunID + ", resumed:",
				"-- the previous process died here; this one resumed the run --",
				"=> done\n     customer cus-1 created once, subscription sub-1 active, access true",
			} {
				if !strings.Contains(string(out), s) {
					t.Errorf("the second run's output lacks %q:\n%s", s, out)
				}
			}

			// The run's whole history: every step completed exactly once,
			// the history replays, and the services hold one customer and
			// one subscription for it.
			st, err := store.OpenReadOnly(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			h, err := st.Load(crashed.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(succeeded, transitions(h)); diff != "" {
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
		})
	}
}

// storedRun returns the only run of the store in dir.
func storedRun(t *testing.T, dir string) store.RunInfo {
	t.Helper()
	st, err := store.OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.List(store.Filter{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("the store holds %v (%v), want one run", runs, err)
	}
	return runs[0]
}
