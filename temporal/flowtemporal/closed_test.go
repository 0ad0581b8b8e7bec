package flowtemporal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/flowgen/flowgen/runtime"
)

// Run.Status of a run whose workflow was terminated from outside flowgen
// (an operator's `temporal workflow terminate`) reads failed, as lists of
// runs read it (ClosedState), not the state its history stopped at: it
// read "waiting", with its wait, before.
func TestStatusOfATerminatedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	def := runtime.New[looping]("Nap")
	must(t, def.Register(runtime.NewSleep[looping]("Doze", time.Hour, nil)))
	f, err := New(def)
	must(t, err)
	c := serveLooping(t, "terminated", f)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := Start(ctx, c, "Nap", looping{}, client.StartWorkflowOptions{ID: "nap-1", TaskQueue: "terminated"})
	must(t, err)
	for {
		st, err := run.Status(ctx)
		if err == nil && st.State == runtime.StateWaiting {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the run does not sleep: %+v, %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	must(t, c.TerminateWorkflow(ctx, "nap-1", "", "by hand"))
	st, err := run.Status(ctx)
	must(t, err)
	if st.State != runtime.StateFailed || st.Machine != "failed" || st.Step != "Doze" || st.Wait != nil || !strings.Contains(st.Err, "terminated outside flowgen") {
		t.Errorf("status of the terminated run: state %q, machine %q, step %q, wait %v, error %q; want failed, failed, Doze, no wait, terminated outside flowgen", st.State, st.Machine, st.Step, st.Wait, st.Err)
	}
	// Wait says the same end: before, it answered the SDK's error alone,
	// Final "", where Status and GET /runs read failed.
	res, err := run.Wait(ctx)
	var term *temporal.TerminatedError
	if res.Final != runtime.StateFailed || res.Err != err || err == nil || !strings.Contains(err.Error(), "terminated outside flowgen") || !errors.As(err, &term) {
		t.Errorf("Wait of the terminated run: final %q, error %v (result's %v); want failed, terminated outside flowgen, wrapping Temporal's", res.Final, err, res.Err)
	}
}
