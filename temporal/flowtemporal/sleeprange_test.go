package flowtemporal

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// A sleep until a time no history can record (past the year 9999) ends
// with the outcome error naming the field and the time, routed by Next,
// as on the runtime (TestSleepUntilOutOfRange there): both compute the
// wait with Step.NewWait and the error with Step.SleepError, and the
// history the queries return encodes. Before, the run set a timer for
// the longest a time.Duration holds and slept on, its history beyond any
// query's JSON; a run from before that change replays so.
func TestSleepUntilOutOfRange(t *testing.T) {
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	var j journal
	rest := runtime.NewSleepUntil[nap]("Rest", func(*nap) time.Time { return far }, nil,
		runtime.WithNext[nap](runtime.OutcomeOK, "Went"), runtime.WithNext[nap](runtime.OutcomeError, "Unset"))
	rest.Sleep.Field = "RestUntil"
	def := runtime.New[nap]("Nap")
	must(t, def.Register(rest, napStep(&j, "Went"), napStep(&j, "Unset")))
	f, err := New(def)
	must(t, err)
	env := newEnv(t)
	f.Register(env)
	env.OnGetVersion(versionSleepRange, workflow.DefaultVersion, 1).Return(workflow.Version(1))
	env.ExecuteWorkflow(WorkflowName("Nap"), nap{})
	wantEnd(t, env, runtime.StateDone)
	if got, want := j.get(), []string{"exec Unset"}; !slices.Equal(got, want) {
		t.Fatalf("effects %q, want %q", got, want)
	}
	v, err := env.QueryWorkflow(QueryHistory)
	if err != nil {
		t.Fatalf("history query: %v", err)
	}
	var h []runtime.Event
	must(t, v.Get(&h))
	want := `step "Rest" sleeps until 10000-01-01T00:00:00Z (field RestUntil): ` + runtime.ErrTimeRange.Error()
	if len(h) < 2 || h[0].Wait == nil || !h[0].Wait.Until.IsZero() || h[1].Outcome != runtime.OutcomeError || !strings.Contains(h[1].Error, want) {
		t.Fatalf("history %+v; want a wait without Until, then %q", h, want)
	}

	// A run from before the change replays setting its timer: it sleeps.
	j = journal{}
	env = newEnv(t)
	f.Register(env)
	env.OnGetVersion(versionSleepRange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	timers := 0
	env.SetOnTimerScheduledListener(func(string, time.Duration) { timers++ })
	env.ExecuteWorkflow(WorkflowName("Nap"), nap{})
	if timers != 1 || slices.Contains(j.get(), "exec Unset") {
		t.Fatalf("version %d: %d timers, effects %q; want it to sleep", workflow.DefaultVersion, timers, j.get())
	}
}
