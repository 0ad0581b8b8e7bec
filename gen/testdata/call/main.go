// Command call runs the generated Order flow, whose step Bill runs the
// Billing flow as a child run and whose rollback runs Refund, and exits 1
// when a run goes anywhere unexpected: the child's result reaches the
// order, a failing child fails the order's step (and compensates both), a
// failure after the call refunds it in a child run, and the runs are linked
// both ways.
package main

import (
	"context"
	"errors"
	"fmt"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type orders struct{}

func (orders) Reserve(_ context.Context, s *OrderState) error { s.Reserved = true; return nil }
func (orders) Release(_ context.Context, s *OrderState) error { s.Reserved = false; return nil }
func (orders) Ship(_ context.Context, s *OrderState) error {
	if s.FailShip {
		return runtime.Permanent(errors.New("no parcel service"))
	}
	s.Shipped = true
	return nil
}

type billing struct{ uncharged *int }

func (billing) Charge(_ context.Context, s *Invoice) error {
	s.Charge = fmt.Sprintf("ch-%d", s.Amount)
	return nil
}
func (b billing) Uncharge(_ context.Context, s *Invoice) error { *b.uncharged++; return nil }
func (billing) Confirm(_ context.Context, s *Invoice) error {
	if s.Amount > 100 {
		return runtime.Permanent(errors.New("over the limit"))
	}
	s.Paid = true
	return nil
}

type refunds struct{}

func (refunds) PayBack(_ context.Context, s *Invoice) error {
	if s.Charge == "" {
		return runtime.Permanent(errors.New("nothing to pay back"))
	}
	s.Refunded = true
	return nil
}

func main() {
	ctx := context.Background()
	sink := runtime.NewMemorySink()
	uncharged := 0
	bill, err := NewBillingFlow(billing{&uncharged}, runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewBillingFlow: %v", err)
	}
	refund, err := NewRefundFlow(refunds{}, runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewRefundFlow: %v", err)
	}
	order, err := NewOrderFlow(orders{}, bill, refund, runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewOrderFlow: %v", err)
	}
	if _, err := NewOrderFlow(orders{}, nil, refund); !errors.Is(err, runtime.ErrDefinition) {
		check.Fatalf("NewOrderFlow without Billing: %v", err)
	}

	// The child's final state is the order's receipt.
	res, _ := order.Execute(ctx, OrderState{Invoice: Invoice{Amount: 40}}, runtime.WithRunID("ok"))
	check.Run("ok", sink, "ok", res.Final, runtime.StateDone,
		"pending -> Reserve:running",
		"Reserve:running -> Bill:waiting [ok]",
		"Bill:waiting -> Bill:running",
		"Bill:running -> Ship:running [ok]",
		"Ship:running -> done [ok]")
	check.Equal("receipt", res.State.Receipt, Invoice{Amount: 40, Charge: "ch-40", Paid: true})
	check.Run("ok's child", sink, "ok@Bill", runtime.StateDone, runtime.StateDone,
		"pending -> Charge:running",
		"Charge:running -> Confirm:running [ok]",
		"Confirm:running -> done [ok]")
	st, _ := order.Status(ctx, "ok")
	check.Equal("children", fmt.Sprint(st.Children), "[{Billing ok@Bill}]")
	cst, _ := bill.Status(ctx, "ok@Bill")
	check.Equal("parent", *cst.Parent, runtime.RunRef{Flow: "Order", RunID: "ok"})

	// The child fails: it undoes its own Charge, and the order's step
	// fails with its cause; the order undoes Reserve (the call completed
	// nothing to refund).
	res, err = order.Execute(ctx, OrderState{Invoice: Invoice{Amount: 500}}, runtime.WithRunID("over"))
	check.Run("over", sink, "over", res.Final, runtime.StateCompensated,
		"pending -> Reserve:running",
		"Reserve:running -> Bill:waiting [ok]",
		"Bill:waiting -> failing [error]",
		"failing -> Reserve:rollback",
		"Reserve:rollback -> failing [ok]",
		"failing -> compensated")
	var ce *runtime.ChildError
	if !errors.As(err, &ce) || ce.Final != runtime.StateCompensated {
		check.Fatalf("over: %v, want the child's failure", err)
	}
	check.Equal("uncharged", uncharged, 1)

	// Shipping fails after the call: the rollback call refunds the
	// receipt in a child run of Refund.
	res, _ = order.Execute(ctx, OrderState{Invoice: Invoice{Amount: 7}, FailShip: true}, runtime.WithRunID("refund"))
	check.Run("refund", sink, "refund", res.Final, runtime.StateCompensated,
		"pending -> Reserve:running",
		"Reserve:running -> Bill:waiting [ok]",
		"Bill:waiting -> Bill:running",
		"Bill:running -> Ship:running [ok]",
		"Ship:running -> failing [error]",
		"failing -> Bill:rollback",
		"Bill:rollback -> failing [ok]",
		"failing -> Reserve:rollback",
		"Reserve:rollback -> failing [ok]",
		"failing -> compensated")
	check.Run("refund's refund", sink, "refund@Bill:rollback", runtime.StateDone, runtime.StateDone,
		"pending -> PayBack:running",
		"PayBack:running -> done [ok]")
	rst, _ := refund.State(ctx, "refund@Bill:rollback")
	check.Equal("refunded", rst, Invoice{Amount: 7, Charge: "ch-7", Paid: true, Refunded: true})
}
