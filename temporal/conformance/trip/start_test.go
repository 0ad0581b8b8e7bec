package trip

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
	"github.com/flowgen/flowgen/temporal/internal/twoforms"
)

// TestStartTripTwice starts a run under an ID a run already has, while it
// runs and once it ended: as the runtime's Start refuses a run ID its sink
// has (runtime.ErrDuplicateRun), StartTrip refuses it, and leaves the run
// as it was. Before, Temporal's defaults answered the first with the
// running run's handle, the second state dropped without a word, and the
// second with a new run under the same ID, whose steps' idempotency keys
// were the first run's, so its services took it for a retry of the first.
func TestStartTripTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := ts.GetDefaultClient()
	w := newWorld(nil)
	w.noConfirmation()
	b, err := NewBillingTemporal(nil, BillingServicesFromCaller(w))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRefundTemporal(nil, RefundServicesFromCaller(w))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewTripTemporal(quoteless{handlers{w}}, TripServicesFromCaller(w), b, r, runtime.WithPublisher(w))
	if err != nil {
		t.Fatal(err)
	}
	ts.NewWorker("twice", f.Register)
	opts := client.StartWorkflowOptions{ID: "trip-twice", TaskQueue: "twice"}
	run, err := StartTrip(ctx, c, TripState{TripID: "trip-twice", Tier: "gold", DepartAt: time.Unix(0, 0)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	w.watchQuote(ctx, run)
	twoforms.WaitFor(t, ctx, twoforms.Handle[TripState](run), runtime.WaitingState("Confirm"))
	if _, err := StartTrip(ctx, c, TripState{TripID: "trip-twice", Tier: "silver"}, opts); !errors.Is(err, runtime.ErrDuplicateRun) {
		t.Fatalf("a second start while the run runs: %v, want runtime.ErrDuplicateRun", err)
	}
	if err := run.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if res, _ := run.Wait(ctx); res.Final != runtime.StateAborted || res.State.Tier != "gold" {
		t.Fatalf("the first run ended %s with tier %q, want aborted with gold", res.Final, res.State.Tier)
	}
	if _, err := StartTrip(ctx, c, TripState{TripID: "trip-twice", Tier: "silver"}, opts); !errors.Is(err, runtime.ErrDuplicateRun) {
		t.Fatalf("a start once the run ended: %v, want runtime.ErrDuplicateRun", err)
	}
}
