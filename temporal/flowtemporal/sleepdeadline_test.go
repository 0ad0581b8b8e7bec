package flowtemporal

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

type nap struct{}

// A sleep whose wake-up time is its deadline itself ends with the outcome
// timeout, as on the runtime (TestSleepWokenLateBeforeItsDeadline there)
// and as flowgen check's sleep-deadline warning says: both ask
// runtime.Wait.Timer. Before, the Temporal run woke and went on ok. A run
// from before that change replays as it ran.
func TestSleepEndingAtItsDeadline(t *testing.T) {
	for _, c := range []struct {
		version workflow.Version
		want    string
	}{
		{1, "exec GaveUp"},
		{workflow.DefaultVersion, "exec Went"},
	} {
		t.Run(fmt.Sprintf("version %d", c.version), func(t *testing.T) {
			var j journal
			step := func(name string) *runtime.Step[nap] { return napStep(&j, name) }
			def := runtime.New[nap]("Nap")
			must(t, def.Register(
				runtime.NewSleep[nap]("Rest", time.Hour, nil, runtime.WithDeadline[nap](time.Hour),
					runtime.WithNext[nap](runtime.OutcomeOK, "Went"), runtime.WithNext[nap](runtime.OutcomeTimeout, "GaveUp")),
				step("Went"), step("GaveUp"),
			))
			f, err := New(def)
			must(t, err)
			env := newEnv(t)
			f.Register(env)
			env.OnGetVersion(versionSleepAtDeadline, workflow.DefaultVersion, 1).Return(c.version)
			env.ExecuteWorkflow(WorkflowName("Nap"), nap{})
			wantEnd(t, env, runtime.StateDone)
			if got := j.get(); !slices.Equal(got, []string{c.want}) {
				t.Fatalf("effects %q, want %q", got, []string{c.want})
			}
		})
	}
}

// napStep is a step of a Nap flow that journals its run, then ends it.
func napStep(j *journal, name string) *runtime.Step[nap] {
	return runtime.NewStep(name, func(context.Context, *nap) (runtime.Outcome, error) {
		j.add("exec %s", name)
		return runtime.OutcomeOK, nil
	}, runtime.WithNext[nap](runtime.OutcomeOK, runtime.Done))
}
