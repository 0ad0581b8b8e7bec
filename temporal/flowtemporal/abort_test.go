package flowtemporal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/replay"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// gate is where an activity of one run tells the test it came, then waits
// until the test lets it go.
type gate struct{ came, open chan struct{} }

func newGate() gate { return gate{make(chan struct{}), make(chan struct{})} }

func (g gate) pass() {
	close(g.came)
	<-g.open
}

// The run itself answers an abort (UpdateAbort), in the order of its own
// moves: an abort that comes once the run has entered its rollback after
// a failure is refused with runtime.ErrRollingBack (Abort answers nil, as
// the runtime's), and the run ends compensated, as the runtime's
// Run.AbortUnlessRollingBack; one taken
// before the failure ends the run aborted; one of a run that is over is
// runtime.ErrFinished. Before, Abort cancelled the workflow after a
// description that said it was running, and answered nil for the run
// held in its rollback, which then ended compensated. A workflow of
// older code, which takes no abort update, is cancelled as before. The
// runs' histories replay on this code.
func TestAbortIsTheRunsAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	undo := map[string]gate{"racing": newGate()} // Reserve's rollback, held
	charge := map[string]gate{"early": newGate()}
	def := runtime.New[lost]("Race")
	must(t, def.Register(
		runtime.NewStep("Reserve", func(ctx context.Context, s *lost) (runtime.Outcome, error) {
			return "", nil
		}, runtime.WithRollback(func(ctx context.Context, s *lost) error {
			if g, ok := undo[runtime.RunID(ctx)]; ok {
				g.pass()
			}
			return nil
		})),
		runtime.NewStep("Charge", func(ctx context.Context, s *lost) (runtime.Outcome, error) {
			if g, ok := charge[runtime.RunID(ctx)]; ok {
				g.pass() // returns after the abort, failed all the same
			}
			return "", runtime.Permanent(errors.New("card refused"))
		}, runtime.WithIrreversible[lost]()),
	))
	f, err := New(def)
	must(t, err)
	ts := testserver.New(t)
	c := ts.GetDefaultClient()
	const queue = "abort-race"
	w := worker.New(c, queue, WorkerOptions(worker.Options{}))
	f.Register(w)
	// A workflow of code older than the abort update: it waits until
	// it is cancelled.
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		_ = workflow.Await(ctx, func() bool { return false })
		return temporal.NewCanceledError()
	}, workflow.RegisterOptions{Name: "Old"})
	must(t, w.Start())
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := func(id string) client.StartWorkflowOptions {
		return client.StartWorkflowOptions{ID: id, TaskQueue: queue}
	}

	racing, err := Start(ctx, c, "Race", lost{}, opts("racing"))
	must(t, err)
	<-undo["racing"].came // the run has entered its rollback: Charge failed
	if err := racing.AbortUnlessRollingBack(ctx); !errors.Is(err, runtime.ErrRollingBack) {
		t.Errorf("abort of the run in its rollback: %v, want runtime.ErrRollingBack", err)
	}
	if err := racing.Abort(ctx); err != nil {
		t.Errorf("Abort of the run in its rollback: %v, want nil, as the runtime's (it changes nothing)", err)
	}
	close(undo["racing"].open)
	if res, err := racing.Wait(ctx); res.Final != runtime.StateCompensated || errors.Is(err, runtime.ErrAborted) {
		t.Errorf("racing: ended %s (%v), want compensated", res.Final, err)
	}

	early, err := Start(ctx, c, "Race", lost{}, opts("early"))
	must(t, err)
	<-charge["early"].came
	if err := early.AbortUnlessRollingBack(ctx); err != nil {
		t.Errorf("abort of the run at Charge: %v", err)
	}
	d, err := c.DescribeWorkflowExecution(ctx, "early", "")
	must(t, err)
	var requested bool
	if !MemoValue(d.GetWorkflowExecutionInfo().GetMemo(), MemoAbortRequested, &requested) || !requested {
		t.Errorf("the run's memo does not say the abort it took while its step runs")
	}
	if err := early.Abort(ctx); err != nil {
		t.Errorf("abort again: %v, want nil (taken already)", err)
	}
	close(charge["early"].open)
	res, err := early.Wait(ctx)
	if res.Final != runtime.StateAborted || !errors.Is(err, runtime.ErrAborted) {
		t.Errorf("early: ended %s (%v), want aborted", res.Final, err)
	}
	// A run over is named by the end it recorded, as on the runtime, not
	// by its workflow's status: before, "is canceled" and "is failed".
	for run, want := range map[*Run[lost]]string{early: `"early" is aborted`, racing: `"racing" is compensated`} {
		if err := run.Abort(ctx); !errors.Is(err, runtime.ErrFinished) || !strings.Contains(err.Error(), want) {
			t.Errorf("abort of a run over: %v, want runtime.ErrFinished saying %s", err, want)
		}
	}
	// The runs replay on this code with the abort they took (the
	// update's handler and its memo) or refused (nothing recorded).
	r := replay.New()
	f.Register(r)
	for _, id := range []string{"racing", "early"} {
		var h historypb.History
		for it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT); it.HasNext(); {
			e, err := it.Next()
			must(t, err)
			h.Events = append(h.Events, e)
		}
		if err := r.Run(id, &h); err != nil {
			t.Errorf("replaying %s: %v", id, err)
		}
	}
	if err := AbortRun(ctx, c, "nobody", nil); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("abort of no run: %v, want runtime.ErrUnknownRun", err)
	}

	old, err := c.ExecuteWorkflow(ctx, opts("old"), "Old")
	must(t, err)
	if err := AbortRun(ctx, c, "old", nil); err != nil {
		t.Errorf("abort of a workflow of older code: %v, want it cancelled", err)
	}
	var canceled *temporal.CanceledError
	if err := old.Get(ctx, nil); !errors.As(err, &canceled) {
		t.Errorf("the workflow of older code ended with %v, want cancelled", err)
	}
}

// An abort that reaches the run after its caller's deadline
// (AbortUpdate.Until), which answered the caller an error, is refused and
// changes nothing: Temporal keeps an update until a worker takes it, however
// late. One within its deadline is taken.
func TestLateAbortChangesNothing(t *testing.T) {
	for _, late := range []bool{true, false} {
		env := newEnv(t)
		def := runtime.New[looping]("Doze")
		must(t, def.Register(runtime.NewSleep[looping]("Doze", time.Hour, nil)))
		f, err := New(def)
		must(t, err)
		f.Register(env)
		var refused, taken error
		answered := false
		env.RegisterDelayedCallback(func() {
			until := env.Now().Add(time.Minute)
			if late {
				until = env.Now().Add(-time.Second)
			}
			env.UpdateWorkflow(UpdateAbort, "abort", &testsuite.TestUpdateCallback{
				OnAccept: func() {},
				OnReject: func(err error) { answered, refused = true, err },
				OnComplete: func(_ any, err error) {
					answered, taken = true, err
				},
			}, AbortUpdate{Until: until})
		}, time.Minute)
		env.ExecuteWorkflow(f.Workflow, looping{})
		var app *temporal.ApplicationError
		switch {
		case !answered:
			t.Errorf("late %v: the update was not answered", late)
		case late && (!errors.As(refused, &app) || app.Type() != errTypeAbortLate):
			t.Errorf("late abort: refused with %v, want %s", refused, errTypeAbortLate)
		case !late && (refused != nil || taken != nil):
			t.Errorf("abort in time: refused %v, %v", refused, taken)
		}
		want := runtime.StateAborted
		if late {
			want = runtime.StateDone
		}
		wantEnd(t, env, want)
	}
}

// An abort the run takes while its await, timed out, asks its inbox
// whether an event in time was signalled to it (Options.Reclaim: an
// Update on the inbox, a round trip) ends it aborted, as the abort it
// took: the runtime's run takes an abort that comes as it enters its
// rollback rather than the failure (Run.enter). Before, the run took
// the update (nil, 202 on serve), then routed its timeout and ended
// failed, or done when the timeout routes there.
func TestAbortTakenWhileReclaiming(t *testing.T) {
	for _, target := range []string{runtime.Fail, runtime.Done} {
		def := runtime.New[paid]("Pay", Awaits())
		must(t, def.Register(
			runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, func(s *paid) string { return s.Order }, time.Hour,
				runtime.WithNext[paid](runtime.OutcomeTimeout, target)),
			runtime.NewStep("Ship", func(context.Context, *paid) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }, runtime.WithIrreversible[paid]()),
		))
		f, err := NewWith(def, Options{
			OnWait: func(workflow.Context, *runtime.Wait, bool) {},
			Reclaim: func(ctx workflow.Context, _ *runtime.Wait) (bool, string) {
				_ = workflow.Sleep(ctx, time.Minute) // the inbox's answer comes back
				return false, ""
			},
		})
		must(t, err)
		env := newEnv(t)
		f.Register(env)
		var answer error
		answered := false
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(UpdateAbort, "abort", &testsuite.TestUpdateCallback{
				OnAccept:   func() {},
				OnReject:   func(err error) { answered, answer = true, err },
				OnComplete: func(_ any, err error) { answered, answer = true, err },
			}, AbortUpdate{})
		}, time.Hour+time.Second)
		env.ExecuteWorkflow(WorkflowName("Pay"), paid{Order: "o-1"})
		if !answered || answer != nil {
			t.Fatalf("timeout to %s: the update: answered %v, %v; want taken", target, answered, answer)
		}
		if st := status(t, env); st.State != runtime.StateAborted {
			t.Errorf("timeout to %s: the run took the abort and ended %s: %q", target, st.State, transitions(st.History))
		}
	}
}
