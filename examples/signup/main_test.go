package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowgen/flowgen/runtime"
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

// TestScenarios runs each scenario of the program and requires exactly the
// transitions the flow declares, and the services left as they should be.
func TestScenarios(t *testing.T) {
	want := map[string]struct {
		final                    runtime.RunState
		transitions              []string
		customers, subscriptions []string
		active                   bool
	}{
		"success": {runtime.StateDone, append(created,
			"CreateSubscription:running -> AwaitPayment:running [ok]",
			"AwaitPayment:running -> Activate:running [ok]",
			"Activate:running -> done [ok]",
		), []string{"cus-ada"}, []string{"sub-1"}, true},
		"rollback": {runtime.StateCompensated, append(created,
			"CreateSubscription:running -> failing [error]",
			"failing -> CreateCustomer:rollback",
			"CreateCustomer:rollback -> failing [ok]",
			"failing -> compensated",
		), nil, nil, false},
		"abort": {runtime.StateAborted, append(created,
			"CreateSubscription:running -> AwaitPayment:running [ok]",
			"AwaitPayment:running -> aborting [error]",
			"aborting -> CreateSubscription:rollback",
			"CreateSubscription:rollback -> aborting [ok]",
			"aborting -> CreateCustomer:rollback",
			"CreateCustomer:rollback -> aborting [ok]",
			"aborting -> aborted",
		), nil, nil, false},
	}
	if len(scenarios) != len(want) {
		t.Fatalf("%d scenarios, %d expectations", len(scenarios), len(want))
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			w := want[sc.name]
			o, err := play(context.Background(), sc)
			if err != nil {
				t.Fatal(err)
			}
			if o.res.Final != w.final {
				t.Errorf("final = %s, want %s (err %v)", o.res.Final, w.final, o.res.Err)
			}
			if diff := cmp.Diff(w.transitions, transitions(o.history)); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(w.customers, o.customers, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("customers left (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(w.subscriptions, o.subscriptions, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("subscriptions left (-want +got):\n%s", diff)
			}
			if o.res.State.Active != w.active {
				t.Errorf("access = %v, want %v", o.res.State.Active, w.active)
			}
		})
	}
}

// TestOutput runs the program's main logic and checks that it reports
// every scenario's end.
func TestOutput(t *testing.T) {
	var out bytes.Buffer
	if err := runAll(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"=> done\n", "=> compensated (step CreateSubscription: subscriptions: no plan \"gold\")", "=> aborted"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
}
