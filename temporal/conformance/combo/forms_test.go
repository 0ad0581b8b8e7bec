package combo

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
	"github.com/flowgen/flowgen/temporal/internal/twoforms"
)

// world is the services and handlers of one run, scripted: per endpoint,
// what each attempt does (the last entry repeats; none: it answers).
type world struct {
	script map[string][]string
	twoforms.Journal
	// authorized is closed once the run's history records Authorize's
	// branch ended (watch): Stock.Reserve ends only then.
	authorized chan struct{}
}

func newWorld(script map[string][]string) *world {
	return &world{script: script, authorized: make(chan struct{})}
}

// watch closes w.authorized once h's history records that Authorize's
// branch ended, or gives up when ctx ends.
func (w *world) watch(ctx context.Context, h twoforms.Handle[ComboState]) {
	twoforms.CloseWhenRecorded(ctx, h, w.authorized, func(e runtime.Event) bool {
		return e.Branch == "Authorize" && e.To == "Prepare:parallel"
	})
}

// Call is every service of the three flows.
func (w *world) Call(ctx context.Context, service, endpoint string, req, rsp any) error {
	attempt := runtime.Attempt(ctx)
	var b string
	if bs := w.script[endpoint]; len(bs) > 0 {
		b = bs[min(attempt, len(bs))-1]
	}
	if endpoint == "Stock.Reserve" {
		// After Authorize's branch is recorded ended, on both forms, so
		// their histories have the branches in the same order. A sleep
		// did not ensure it: on a busy machine Temporal started
		// Authorize's activity after the sleep and Reserve ended first.
		select {
		case <-w.authorized:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Journaled as it ends: the branches start together, and Reserve
	// ends last.
	w.Add(ctx, fmt.Sprintf("%s #%d %s", endpoint, attempt, b))
	if b == "fail" {
		return fmt.Errorf("%s: unavailable", endpoint)
	}
	if out, ok := rsp.(*string); ok {
		*out = endpoint + "-" + runtime.RunID(ctx)
	}
	return nil
}

// handlers are Combo's Go rollbacks: each appends its name to Undone.
type handlers struct{ w *world }

func (h handlers) Release(ctx context.Context, s *ComboState) error {
	s.Undone = append(s.Undone, "Release")
	h.w.Add(ctx, "Release")
	return nil
}

func (h handlers) Void(ctx context.Context, s *ComboState) error {
	s.Undone = append(s.Undone, "Void")
	h.w.Add(ctx, "Void")
	return nil
}

func local(t *testing.T, ctx context.Context, w *world, id string, start ComboState, drive func(twoforms.Handle[ComboState])) twoforms.Observed[ComboState] {
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	opts := []runtime.Option{runtime.WithSink(sink), runtime.WithSubscriber(bus)}
	b, err := NewBillingFlow(nil, BillingServicesFromCaller(w), opts...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRefundFlow(nil, RefundServicesFromCaller(w), opts...)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewComboFlow(handlers{w}, ComboServicesFromCaller(w), b, r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(ctx, start, runtime.WithRunID(id))
	if err != nil {
		t.Fatal(err)
	}
	h := twoforms.Local(run, bus)
	w.watch(ctx, h)
	drive(h)
	o := twoforms.Observe(t, ctx, h, w.Lines, func() []runtime.Message { return nil })
	o.Children = twoforms.Children(t, ctx, h, func(ref runtime.RunRef) ([]runtime.Event, error) { return sink.History(ref.RunID), nil })
	return o
}

// onTemporal runs the case on a worker of ts of its own queue, through c,
// ts's default client.
func onTemporal(t *testing.T, ctx context.Context, ts *temporaltest.TestServer, c client.Client, w *world, id string, start ComboState, drive func(twoforms.Handle[ComboState])) twoforms.Observed[ComboState] {
	b, err := NewBillingTemporal(nil, BillingServicesFromCaller(w))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRefundTemporal(nil, RefundServicesFromCaller(w))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewComboTemporal(handlers{w}, ComboServicesFromCaller(w), b, r)
	if err != nil {
		t.Fatal(err)
	}
	twoforms.NewWorker(ts, id, f.Register) // a queue of its own, served by this world
	run, err := StartCombo(ctx, c, start, client.StartWorkflowOptions{ID: id, TaskQueue: id})
	if err != nil {
		t.Fatal(err)
	}
	w.watch(ctx, run)
	drive(run)
	o := twoforms.Observe(t, ctx, run, w.Lines, func() []runtime.Message { return nil })
	o.Children = twoforms.Children(t, ctx, run, func(ref runtime.RunRef) ([]runtime.Event, error) {
		return flowtemporal.Attach[Invoice](c, ref.RunID).History(ctx)
	})
	return o
}

// TestComboFormsAgree runs combo.flow's generated code in its two forms,
// each script on both at once, Temporal on a real server, and requires the
// same journal (the Go rollbacks', the child runs' calls), history (the
// children's too), final state, terminal state and error.
func TestComboFormsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t, temporaltest.WithBaseWorkerOptions(flowtemporal.WorkerOptions(worker.Options{})))
	// The cases run in parallel, and the server makes its default client
	// on first use without a lock (-race saw two cases make it at once):
	// made here, before them, it is only shared, as a client may be.
	tc := ts.GetDefaultClient()
	past, far := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		script  map[string][]string
		amount  int
		settle  time.Time
		approve bool
		final   runtime.RunState
		undone  []string
	}{
		// Ship's second attempt inside its deadline.
		{"done", map[string][]string{"Parcel.Send": {"fail", ""}}, 40, past, false, runtime.StateDone, nil},
		// The choose after the call routes to the await, whose event
		// carries the correlation at order.id.
		{"approved", nil, 900, past, true, runtime.StateDone, nil},
		// No time for Ship's third attempt: Refund's child, then the
		// block's Go rollbacks, Reserve's (completed last) first.
		{"ship out of time", map[string][]string{"Parcel.Send": {"fail"}}, 40, past, false, runtime.StateCompensated, []string{"Release", "Void"}},
		{"approval times out", nil, 900, past, false, runtime.StateCompensated, []string{"Release", "Void"}},
		{"sleep cut by its deadline", nil, 40, far, false, runtime.StateCompensated, []string{"Release", "Void"}},
		{"sleep until a time not set", nil, 40, time.Time{}, false, runtime.StateCompensated, []string{"Release", "Void"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id := "combo-" + strings.ReplaceAll(c.name, " ", "-")
			start := ComboState{OrderID: id, Item: "lamp", Amount: c.amount, Invoice: Invoice{Amount: c.amount}, SettleAt: c.settle}
			drive := func(h twoforms.Handle[ComboState]) {
				if !c.approve {
					return
				}
				twoforms.WaitFor(t, ctx, h, runtime.WaitingState("Approve"))
				if err := h.Deliver(ctx, "approvals", "decided", json.RawMessage(fmt.Sprintf(`{"order": {"id": %q}, "ok": true}`, id))); err != nil {
					t.Error(err)
				}
			}
			var want, got twoforms.Observed[ComboState]
			var wg sync.WaitGroup
			wg.Go(func() { want = local(t, ctx, newWorld(c.script), id, start, drive) })
			wg.Go(func() { got = onTemporal(t, ctx, ts, tc, newWorld(c.script), id, start, drive) })
			wg.Wait()
			if t.Failed() {
				return
			}
			if want.Final != c.final || !slices.Equal(want.State.Undone, c.undone) {
				t.Errorf("the runtime form ended %s with rollbacks %v, want %s with %v (%s)", want.Final, want.State.Undone, c.final, c.undone, want.Err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("the Temporal form differs from the runtime form (-runtime +temporal):\n%s", d)
			}
		})
	}
}
