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

var refunded = []string{
	"pending -> Inspect:running",
	"Inspect:running -> Refund:running [paid]",
	"Refund:running -> AwaitRefund:running [ok]",
}

// TestScenarios cancels each order of the program and requires exactly the
// transitions the flow declares for it, and the events it published.
func TestScenarios(t *testing.T) {
	want := map[string]struct {
		final       runtime.RunState
		transitions []string
		published   []string
	}{
		"o-unpaid": {runtime.StateDone, []string{
			"pending -> Inspect:running",
			"Inspect:running -> Close:running [unpaid]",
			"Close:running -> done [ok]",
		}, []string{`orders/order.cancelled "o-unpaid"`}},
		"o-paid": {runtime.StateDone, append(refunded,
			"AwaitRefund:running -> Close:running [ok]",
			"Close:running -> done [ok]",
		), []string{`orders/order.cancelled "o-paid"`}},
		"o-slow": {runtime.StateDone, append(refunded,
			"AwaitRefund:running -> Escalate:running [timeout]",
			"Escalate:running -> Close:running [ok]",
			"Close:running -> done [ok]",
		), []string{`support/refund.stuck "rf-o-slow"`, `orders/order.cancelled "o-slow"`}},
		"o-shipped": {runtime.StateFailed, []string{
			"pending -> Inspect:running",
			"Inspect:running -> failing [shipped]",
			"failing -> failed",
		}, nil},
	}
	if len(scenarios) != len(want) {
		t.Fatalf("%d scenarios, %d expectations", len(scenarios), len(want))
	}
	for _, sc := range scenarios {
		t.Run(sc.order, func(t *testing.T) {
			w := want[sc.order]
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
			if diff := cmp.Diff(w.published, o.published, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSettlementInState: the awaited payload lands in the state field the
// flow names.
func TestSettlementInState(t *testing.T) {
	o, err := play(context.Background(), scenario{order: "o-paid"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Settlement{RefundID: "rf-o-paid", Cents: 1299}); o.res.State.Settlement != want {
		t.Errorf("settlement = %+v, want %+v", o.res.State.Settlement, want)
	}
}

// TestOutput runs the program's main logic and checks that it reports
// every scenario's end.
func TestOutput(t *testing.T) {
	var out bytes.Buffer
	if err := runAll(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "=> done\n"); got != 3 {
		t.Errorf("%d runs done, want 3:\n%s", got, out.String())
	}
	if !strings.Contains(out.String(), `=> failed (step Inspect: runtime: routed to fail by outcome "shipped")`) {
		t.Errorf("output lacks the shipped order's failure:\n%s", out.String())
	}
}
