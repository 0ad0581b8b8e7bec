package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowgen/flowgen/examples/internal/demo/demotest"
	"github.com/flowgen/flowgen/examples/internal/storedir/storedirtest"
	"github.com/flowgen/flowgen/runtime"
)

var refunded = []string{
	"pending -> Inspect:running",
	"Inspect:running -> Refund:running [paid]",
	"Refund:running -> AwaitRefund:waiting [ok]",
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
			"AwaitRefund:waiting -> AwaitRefund:running",
			"AwaitRefund:running -> Close:running [ok]",
			"Close:running -> done [ok]",
		), []string{`orders/order.cancelled "o-paid"`}},
		"o-slow": {runtime.StateDone, append(refunded,
			"AwaitRefund:waiting -> Escalate:running [timeout]",
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
			o, err := play(context.Background(), newTestApp(t), sc, "cancel-"+sc.order)
			if err != nil {
				t.Fatal(err)
			}
			if o.res.Final != w.final {
				t.Errorf("final = %s, want %s (err %v)", o.res.Final, w.final, o.res.Err)
			}
			if diff := cmp.Diff(w.transitions, demotest.Transitions(o.history)); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(w.published, o.published, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
		})
	}
}

// newTestApp opens the app on a new store.
func newTestApp(t *testing.T) *app { return demotest.Open(t, openApp) }

// TestSettlementInState: the awaited payload lands in the state field the
// flow names.
func TestSettlementInState(t *testing.T) {
	o, err := play(context.Background(), newTestApp(t), scenario{order: "o-paid"}, "paid")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Settlement{RefundID: "rf-o-paid", Cents: 1299}); o.res.State.Settlement != want {
		t.Errorf("settlement = %+v, want %+v", o.res.State.Settlement, want)
	}
}

// TestOutput runs the program twice on one store and checks that it
// reports every scenario's end, both times.
func TestOutput(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		var out, errs bytes.Buffer
		if code := run(context.Background(), []string{"-store", dir}, &out, &errs); code != 0 {
			t.Fatalf("exit %d: %s", code, errs.String())
		}
		if got := strings.Count(out.String(), "=> done\n"); got != 3 {
			t.Errorf("run %d: %d runs done, want 3:\n%s", i+1, got, out.String())
		}
		if !strings.Contains(out.String(), `=> failed (step Inspect: runtime: routed to fail by outcome "shipped")`) {
			t.Errorf("run %d: output lacks the shipped order's failure:\n%s", i+1, out.String())
		}
		if strings.Contains(out.String(), "resumed") {
			t.Errorf("run %d resumed something, but every run had ended:\n%s", i+1, out.String())
		}
	}
	if code := run(context.Background(), []string{"-store", dir, "extra"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("an extra argument: exit %d, want 2", code)
	}
}

// Without -store the program runs on a new store in a temporary directory,
// and removes it at exit.
func TestTemporaryStoreRemoved(t *testing.T) { storedirtest.TemporaryStoreRemoved(t, run) }

// TestResumeOnStart: a run that a previous process left waiting for the
// refund's settlement (its next event never reached the store) is resumed
// when the program starts, and the program takes it to its end: the day
// passes, support is told, the order is closed.
func TestResumeOnStart(t *testing.T) {
	dir := t.TempDir()
	a, err := openApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The first process: its sink stops taking events when the await
	// times out, as a process that died then would.
	died := errors.New("the process died")
	dying, err := NewCancelFlow(handlers{orders: orders}, CancelServicesFromCaller(a.caller),
		runtime.WithPublisher(a.bus), runtime.WithSubscriber(a.bus), runtime.WithClock(a.clock),
		runtime.WithSink(runtime.SinkFunc(func(ctx context.Context, e runtime.Event) error {
			if e.To == runtime.RunningState(CancelStepEscalate) {
				return died
			}
			return a.store.Emit(ctx, e)
		})))
	if err != nil {
		t.Fatal(err)
	}
	r, err := dying.Start(context.Background(), CancelState{OrderID: "o-slow"}, runtime.WithRunID("slow-1"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := a.finish(context.Background(), r); !errors.Is(err, died) {
		t.Fatalf("the first process's run ended %s, %v", res.Final, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-store", dir}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	resumed, _, _ := strings.Cut(out.String(), "o-unpaid (run")
	for _, s := range []string{
		"run slow-1, resumed from the store:",
		"AwaitRefund:waiting -> Escalate:running  [timeout]",
		"=> done\n     published [support/refund.stuck \"rf-o-slow\" orders/order.cancelled \"o-slow\"]",
	} {
		if !strings.Contains(resumed, s) {
			t.Errorf("output before the scenarios lacks %q:\n%s", s, out.String())
		}
	}
}
