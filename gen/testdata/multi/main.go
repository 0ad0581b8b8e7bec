// Command multi runs the two flows of one generated file: Cancel, whose
// steps are all rpc (its handler interface is empty), and Reconcile, with a
// Go step whose named outcomes pick the next step.
package main

import (
	"context"
	"errors"
	"fmt"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type reconcile struct{}

func (reconcile) Compare(_ context.Context, s *ReconcileState) (ReconcileCompareOutcome, error) {
	if s.Matched {
		return ReconcileCompareOutcomeMatched, nil
	}
	s.Report = "3 invoices unpaid"
	return ReconcileCompareOutcomeMismatched, nil
}

func main() {
	ctx := context.Background()
	caller := runtime.NewMemoryCaller()
	caller.Handle("subscriptions", "Subscription.Stop", runtime.HandleFunc(func(context.Context, string) (any, error) { return nil, nil }))
	caller.Handle("subscriptions", "Subscription.Resume", runtime.HandleFunc(func(context.Context, string) (any, error) { return nil, nil }))
	caller.Handle("payments", "Payment.Refund", runtime.HandleFunc(func(context.Context, int) (string, error) {
		return "", runtime.Permanent(errors.New("payments: card expired"))
	}))
	bus := runtime.NewMemoryBus()
	sink := runtime.NewMemorySink()
	opts := []runtime.Option{runtime.WithPublisher(bus), runtime.WithSubscriber(bus), runtime.WithSink(sink)}

	// Cancel has no Go steps: nil handlers. Its handlers interface is
	// empty, so an option given in their place compiles; the constructor
	// refuses it rather than run without it (here, without its sink).
	_, err := NewCancelFlow(runtime.WithSink(sink), CancelServicesFromCaller(caller), runtime.WithPublisher(bus), runtime.WithSubscriber(bus))
	check.Equal("option as handlers: ErrNotConfigured", errors.Is(err, runtime.ErrNotConfigured), true)
	check.Equal("option as handlers: error", fmt.Sprint(err), `runtime: not configured: flow "Cancel": a runtime.Option was given as its CancelHandlers, where it would be ignored: the flow has no Go steps, so pass nil first (NewCancelFlow(nil, ...))`)
	cancel, err := NewCancelFlow(nil, CancelServicesFromCaller(caller), opts...)
	if err != nil {
		check.Fatalf("NewCancelFlow: %v", err)
	}
	res, err := cancel.Execute(ctx, CancelState{SubscriptionID: "sub-1", Refund: 5})
	check.Run("cancel", sink, res.RunID, res.Final, runtime.StateCompensated,
		"pending -> Stop:running",
		"Stop:running -> Refund:running [ok]",
		"Refund:running -> failing [error]",
		"failing -> Stop:rollback",
		"Stop:rollback -> failing [ok]",
		"failing -> compensated")
	var stepErr *runtime.StepError
	check.Equal("cancel: failed step", errors.As(err, &stepErr) && stepErr.Step == CancelStepRefund, true)
	st, err := cancel.State(ctx, res.RunID) // from the sink's history
	check.Equal("cancel: State error", err, nil)
	check.Equal("cancel: State", st, res.State)
	// Triggers are the .flow's trigger lines, in file order, for engines.
	check.Equal("cancel: Triggers", fmt.Sprint(cancel.Triggers()), "[{rpc Cancel.Start   } {schedule    0 3 * * *}]")

	rec, err := NewReconcileFlow(reconcile{}, opts...)
	if err != nil {
		check.Fatalf("NewReconcileFlow: %v", err)
	}
	check.Equal("reconcile: Triggers", fmt.Sprint(rec.Triggers()), "[{schedule    @every 1h} {event  billing reconcile.requested }]")
	res2, _ := rec.Execute(ctx, ReconcileState{Matched: true})
	check.Run("matched", sink, res2.RunID, res2.Final, runtime.StateDone,
		"pending -> Compare:running",
		"Compare:running -> done [matched]")
	res2, _ = rec.Execute(ctx, ReconcileState{})
	check.Run("mismatched", sink, res2.RunID, res2.Final, runtime.StateDone,
		"pending -> Compare:running",
		"Compare:running -> Report:running [mismatched]",
		"Report:running -> done [ok]")
	msgs := bus.Published()
	check.Equal("mismatched: alert", len(msgs) == 1 && string(msgs[0].Payload) == `"3 invoices unpaid"`, true)
}
