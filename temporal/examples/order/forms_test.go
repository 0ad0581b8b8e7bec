package order

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
	"github.com/flowgen/flowgen/temporal/internal/twoforms"
)

// The generated file has both forms of each flow: NewOrderFlow runs it on
// the flowgen runtime (the call and the rollback call as child runs),
// NewOrderTemporal as a Temporal workflow (child workflows). These tests
// run each script on both, Temporal on a real server, with the same
// handlers, and require the same journal (the children's calls
// included), history (the children's too), final state, terminal state
// and error.

// An orderForm runs a script: drive gets the run, and the machine state of
// its child run of Billing ("" until it has one).
type orderForm func(t *testing.T, ctx context.Context, id string, w *world, start OrderState, drive func(ctx context.Context, h twoforms.Handle[OrderState], billMachine func() string)) twoforms.Observed[OrderState]

// billOf is the ID of the child run of Billing of run id.
func billOf(id string) string {
	return runtime.ChildRunID(runtime.Key{RunID: id, Step: "Bill", Visit: 1}, 1)
}

func localOrder(t *testing.T, ctx context.Context, id string, w *world, start OrderState, drive func(context.Context, twoforms.Handle[OrderState], func() string)) twoforms.Observed[OrderState] {
	w.sink = runtime.NewMemorySink()
	opt := runtime.WithSink(w.sink)
	b, err := NewBillingFlow(billing{w}, opt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRefundFlow(refunds{w}, opt)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOrderFlow(orders{w}, b, r, opt)
	if err != nil {
		t.Fatal(err)
	}
	run, err := o.Start(ctx, start, runtime.WithRunID(id))
	if err != nil {
		t.Fatal(err)
	}
	h := twoforms.Local(run, runtime.NewMemoryBus())
	drive(ctx, h, func() string {
		if child, ok := b.Run(billOf(id)); ok {
			return child.Status().Machine
		}
		return ""
	})
	obs := twoforms.Observe(t, ctx, h, w.journal, func() []runtime.Message { return nil })
	obs.Children = twoforms.Children(t, ctx, h, func(ref runtime.RunRef) ([]runtime.Event, error) {
		return w.sink.History(ref.RunID), nil
	})
	return obs
}

func temporalOrder(ts *temporaltest.TestServer) orderForm {
	return func(t *testing.T, ctx context.Context, id string, w *world, start OrderState, drive func(context.Context, twoforms.Handle[OrderState], func() string)) twoforms.Observed[OrderState] {
		o := w.order(t)
		ts.NewWorker(id, o.Register) // a queue of its own, served by this world's handlers
		run, err := StartOrder(ctx, ts.GetDefaultClient(), start, client.StartWorkflowOptions{ID: id, TaskQueue: id})
		if err != nil {
			t.Fatal(err)
		}
		drive(ctx, run, func() string {
			st, _ := flowtemporal.Attach[Invoice](ts.GetDefaultClient(), billOf(id)).Status(ctx)
			return st.Machine
		})
		obs := twoforms.Observe(t, ctx, run, w.journal, func() []runtime.Message { return nil })
		obs.Children = twoforms.Children(t, ctx, run, func(ref runtime.RunRef) ([]runtime.Event, error) {
			return flowtemporal.Attach[Invoice](ts.GetDefaultClient(), ref.RunID).History(ctx)
		})
		return obs
	}
}

func TestOrderFormsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	local, temporal := localOrder, temporalOrder(ts)
	now := time.Now().UTC().Truncate(time.Second)
	// Authorize waits for Reserve to return, then a while, so that
	// Reserve completes first on both and the journals and histories
	// have one order.
	const later = 300 * time.Millisecond
	nothingToDo := func(*testing.T, context.Context, twoforms.Handle[OrderState], func() string) {}
	// charging is the Charge of the world of the run in progress (the two
	// forms run one after the other): "aborted while the child charges"
	// aborts once it has started.
	var charging chan struct{}
	cases := []struct {
		name  string
		world func(*world)
		start OrderState
		drive func(*testing.T, context.Context, twoforms.Handle[OrderState], func() string)
		final runtime.RunState
	}{
		{"done", func(w *world) { w.afterReserve(later) }, OrderState{Items: []string{"book"}, Invoice: Invoice{Amount: 40, SettleAt: now}}, nothingToDo, runtime.StateDone},
		{"card declined in the block", func(w *world) { w.afterReserve(later); w.authFail = true }, OrderState{Items: []string{"book"}, Invoice: Invoice{Amount: 40, SettleAt: now}}, nothingToDo, runtime.StateCompensated},
		{"child fails", func(w *world) { w.afterReserve(later) }, OrderState{Items: []string{"book"}, Invoice: Invoice{Amount: 400, SettleAt: now}}, nothingToDo, runtime.StateCompensated},
		{"ship fails, the refund is a child", func(w *world) { w.afterReserve(later); w.shipFail = true }, OrderState{Items: []string{"book"}, Invoice: Invoice{Amount: 40, SettleAt: now}}, nothingToDo, runtime.StateCompensated},
		// The abort reaches the child while Charge runs: both forms wait
		// for it, so the completed charge is refunded.
		{"aborted while the child charges", func(w *world) {
			w.afterReserve(later)
			w.slowPay = time.Second
			charging = make(chan struct{}) // each form's run has its own world
			w.charging = charging
		}, OrderState{Items: []string{"book"}, Invoice: Invoice{Amount: 40, SettleAt: now}},
			func(t *testing.T, ctx context.Context, h twoforms.Handle[OrderState], billMachine func() string) {
				select {
				case <-charging:
				case <-ctx.Done():
					t.Fatal("Charge never started")
				}
				abortWhen(t, ctx, h, billMachine, runtime.RunningState("Charge"))
			}, runtime.StateAborted},
		{"aborted while the child sleeps", func(w *world) { w.afterReserve(later) }, OrderState{Items: []string{"book"}, Invoice: Invoice{Amount: 40, SettleAt: now.Add(time.Hour)}},
			func(t *testing.T, ctx context.Context, h twoforms.Handle[OrderState], billMachine func() string) {
				abortWhen(t, ctx, h, billMachine, runtime.WaitingState("Settle"))
			}, runtime.StateAborted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id := twoforms.RunID(t)
			run := func(f orderForm) twoforms.Observed[OrderState] {
				w := &world{}
				c.world(w)
				return f(t, ctx, id, w, c.start, func(ctx context.Context, h twoforms.Handle[OrderState], bill func() string) {
					c.drive(t, ctx, h, bill)
				})
			}
			got, want := run(temporal), run(local)
			if got.Final != c.final {
				t.Errorf("the run ended %s, want %s (%s)", got.Final, c.final, got.Err)
			}
			// Billing's run once the block completed, Refund's too when the
			// shipment failed: the child runs whose histories were compared.
			children, ok := map[string]int{"card declined in the block": 0, "ship fails, the refund is a child": 2}[c.name]
			if !ok {
				children = 1
			}
			if len(got.Children) != children {
				t.Errorf("%d child runs compared, want %d: %v", len(got.Children), children, got.Children)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("the Temporal form differs from the runtime form (-runtime +temporal):\n%s", d)
			}
		})
	}
}

// abortWhen aborts the run once its child run of Billing is in state
// machine.
func abortWhen(t *testing.T, ctx context.Context, h twoforms.Handle[OrderState], billMachine func() string, machine string) {
	for billMachine() != machine {
		if ctx.Err() != nil {
			t.Fatalf("the child run never reached %s", machine)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.Abort(ctx); err != nil {
		t.Fatal(err)
	}
}
