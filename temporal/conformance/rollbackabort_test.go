package conformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/twoforms"
)

// undoFlow is a flow whose second step fails for good, so its first is
// rolled back; that rollback waits until release is closed, and tells
// undoing when it starts.
func undoFlow(t *testing.T, undoing chan<- struct{}, release <-chan struct{}, opts ...runtime.Option) *runtime.Flow[struct{}] {
	t.Helper()
	def := runtime.New[struct{}]("Undo", opts...)
	err := def.Register(
		runtime.NewStep("Take", func(ctx context.Context, _ *struct{}) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
			runtime.WithTimeout[struct{}](time.Minute),
			runtime.WithRollback(func(ctx context.Context, _ *struct{}) error {
				select {
				case undoing <- struct{}{}:
				default:
				}
				<-release
				return nil
			}), runtime.WithRollbackTimeout[struct{}](time.Minute)),
		runtime.NewStep("Pay", func(ctx context.Context, _ *struct{}) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("card refused"))
		}, runtime.WithTimeout[struct{}](time.Minute)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// An abort while a failed run rolls back changes nothing, on both forms:
// Abort answers as on the runtime, the rollback finishes, and the run ends
// compensated with the failure's error, not aborted.
func TestAbortDuringRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type ended struct {
		abortErr error
		res      runtime.Result[struct{}]
		err      error
		history  []string
		status   runtime.Status
	}
	var got [2]ended
	{
		undoing, release := make(chan struct{}, 1), make(chan struct{})
		sink := runtime.NewMemorySink()
		run, err := undoFlow(t, undoing, release, runtime.WithSink(sink)).Start(ctx, struct{}{}, runtime.WithRunID("undo-1"))
		if err != nil {
			t.Fatal(err)
		}
		<-undoing
		got[0].abortErr = run.Abort()
		close(release)
		got[0].res, got[0].err = run.Wait(ctx)
		got[0].status = run.Status()
		got[0].history = twoforms.Transitions(sink.History(run.ID()))
	}
	{
		undoing, release := make(chan struct{}, 1), make(chan struct{})
		f, err := flowtemporal.New(undoFlow(t, undoing, release))
		if err != nil {
			t.Fatal(err)
		}
		ts := newServer(t)
		ts.NewWorker("undo", f.Register)
		run, err := flowtemporal.Start(ctx, ts.GetDefaultClient(), f.ID(), struct{}{}, client.StartWorkflowOptions{ID: "undo-1", TaskQueue: "undo"})
		if err != nil {
			t.Fatal(err)
		}
		<-undoing
		got[1].abortErr = run.Abort(ctx)
		close(release)
		got[1].res, got[1].err = run.Wait(ctx)
		st, err := run.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got[1].status = st
		got[1].history = twoforms.Transitions(st.History)
	}
	want := []string{
		"pending>Take:running",
		"Take:running>Pay:running #1 ok",
		"Pay:running>failing #1 error: card refused",
		"failing>Take:rollback",
		"Take:rollback>failing #1 ok",
		"failing>compensated",
	}
	for i, form := range []string{"runtime", "temporal"} {
		g := got[i]
		if g.abortErr != nil || g.res.Final != runtime.StateCompensated || g.err == nil || g.err.Error() != "step Pay: card refused" ||
			g.status.State != runtime.StateCompensated || g.status.Err != "step Pay: card refused" {
			t.Errorf("%s: abort %v; result %s %v; status %s %q; want the abort taken, changing nothing: compensated by Pay's failure",
				form, g.abortErr, g.res.Final, g.err, g.status.State, g.status.Err)
		}
		if d := cmp.Diff(want, g.history); d != "" {
			t.Errorf("%s: history (-want +got):\n%s", form, d)
		}
	}
}
