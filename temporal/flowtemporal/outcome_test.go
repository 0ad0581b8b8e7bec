package flowtemporal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

type review struct{ Route string }

// A step whose attempt returns an outcome that fails it (one its flow does
// not route, or one of the runtime's own: retry, error, timeout) fails as
// on the runtime (TestNamedOutcomes there): it did not complete, so it is
// not undone, and the run is compensated with runtime.ErrUnknownOutcome.
// A run from before that change replays as it ran: the step undone, the
// runtime's own outcomes routed.
func TestOutcomeThatFailsTheStep(t *testing.T) {
	for _, c := range []struct {
		route   string
		version workflow.Version
		undone  bool // Review's rollback ran
		final   runtime.RunState
	}{
		{"maybe", 1, false, runtime.StateCompensated},
		{"retry", 1, false, runtime.StateCompensated},
		{"error", 1, false, runtime.StateCompensated},
		{"timeout", 1, false, runtime.StateCompensated},
		{"maybe", workflow.DefaultVersion, true, runtime.StateCompensated},
		{"error", workflow.DefaultVersion, true, runtime.StateCompensated}, // routed to fail by its outcome
	} {
		t.Run(fmt.Sprintf("%s/version %d", c.route, c.version), func(t *testing.T) {
			var j journal
			def := runtime.New[review]("Review")
			step := func(name string) *runtime.Step[review] {
				return runtime.NewStep(name, func(_ context.Context, s *review) (runtime.Outcome, error) {
					j.add("exec %s", name)
					if name == "Review" {
						return runtime.Outcome(s.Route), nil
					}
					return runtime.OutcomeOK, nil
				}, runtime.WithRollback(func(context.Context, *review) error {
					j.add("undo %s", name)
					return nil
				}))
			}
			decide := step("Review")
			decide.Next = map[runtime.Outcome]string{"approved": runtime.Done}
			must(t, def.Register(step("Submit"), decide))
			f, err := New(def)
			must(t, err)
			env := newEnv(t)
			f.Register(env)
			env.OnGetVersion(versionFailingOutcome, workflow.DefaultVersion, 1).Return(c.version)
			env.ExecuteWorkflow(WorkflowName("Review"), review{Route: c.route})
			wantEnd(t, env, c.final)
			want := []string{"exec Submit", "exec Review", "undo Submit"}
			if c.undone {
				want = []string{"exec Submit", "exec Review", "undo Review", "undo Submit"}
			}
			if got := j.get(); !slices.Equal(got, want) {
				t.Fatalf("effects %q, want %q", got, want)
			}
			if st := status(t, env); c.version == 1 && !strings.Contains(st.Err, `unknown outcome "`+c.route+`"`) {
				t.Fatalf("status error %q, want the unknown outcome", st.Err)
			}
			// Run.Wait's error (the ending's) wraps the runtime's, as
			// the runtime's Result.Err does, though it crossed as text.
			if end, ok, err := endingOf(env.GetWorkflowError()); c.version == 1 && (!ok || err != nil || !errors.Is(end.err(), runtime.ErrUnknownOutcome)) {
				t.Fatalf("the run's error %v (%v): want it to wrap runtime.ErrUnknownOutcome", end.err(), err)
			}
		})
	}
}

// The status query says what the runtime's Status says of a run a step's
// outcome routed to fail after an earlier step's failure (TestRoutedToFail-
// StatusNamesTheFailureBefore there): the routing and that failure. The
// query is the runtime's Replay of the run's history, so it holds as long
// as the history records the failure as the runtime does.
func TestRoutedToFailStatusNamesTheFailureBefore(t *testing.T) {
	def := runtime.New[review]("Charge")
	must(t, def.Register(
		runtime.NewStep("Charge", func(context.Context, *review) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("card declined"))
		}, runtime.WithNext[review](runtime.OutcomeError, "Reject")),
		runtime.NewStep("Reject", func(context.Context, *review) (runtime.Outcome, error) { return "", nil },
			runtime.WithNext[review](runtime.OutcomeOK, runtime.Fail)),
	))
	f, err := New(def)
	must(t, err)
	env := newEnv(t)
	f.Register(env)
	env.ExecuteWorkflow(WorkflowName("Charge"), review{})
	wantEnd(t, env, runtime.StateFailed)
	want := `step Reject: runtime: routed to fail by outcome "ok"; the last step failure before it: step Charge: card declined`
	if st := status(t, env); st.Err != want {
		t.Fatalf("status error %q, want %q", st.Err, want)
	}
	if end, ok, err := endingOf(env.GetWorkflowError()); !ok || err != nil || !errors.Is(end.err(), runtime.ErrRoutedToFail) {
		t.Fatalf("the run's error %v (%v): want it to wrap runtime.ErrRoutedToFail", end.err(), err)
	}
}
