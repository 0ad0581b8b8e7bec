package flowtemporal

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// ratio is the state of the flows below: one that a step or a branch's
// merge can leave not encoding as JSON (a NaN).
type ratio struct {
	Ratio float64
	Other float64
}

// A step whose attempt leaves a state that does not encode as JSON fails
// at once, permanently, as on the runtime (runtime.StateNotJSON): no
// retry, the run compensated with the runtime's error, the state as it
// was. Before, the SDK failed to encode the activity's result, a failure
// it retried (here three attempts) before the step failed with the SDK's
// message.
func TestStepLeavingStateNotJSONFails(t *testing.T) {
	var j journal
	def := runtime.New[ratio]("Ratio")
	must(t, def.Register(
		runtime.NewStep("Reserve", func(context.Context, *ratio) (runtime.Outcome, error) {
			j.add("exec Reserve")
			return runtime.OutcomeOK, nil
		}, runtime.WithRollback(func(context.Context, *ratio) error {
			j.add("undo Reserve")
			return nil
		})),
		runtime.NewStep("Divide", func(_ context.Context, s *ratio) (runtime.Outcome, error) {
			j.add("exec Divide")
			s.Ratio = math.NaN()
			return runtime.OutcomeOK, nil
		}, runtime.WithIrreversible[ratio](), runtime.WithRetry[ratio](runtime.RetryPolicy{Attempts: 3, Initial: time.Second})),
	))
	f, err := New(def)
	must(t, err)
	env := newEnv(t)
	f.Register(env)
	env.ExecuteWorkflow(WorkflowName("Ratio"), ratio{Ratio: 1})
	wantEnd(t, env, runtime.StateCompensated)
	if want := []string{"exec Reserve", "exec Divide", "undo Reserve"}; !slices.Equal(j.get(), want) {
		t.Errorf("steps ran %q, want %q", j.get(), want)
	}
	st := status(t, env)
	if !strings.Contains(st.Err, "Divide") || !strings.Contains(st.Err, "the state the attempt left does not encode as JSON") {
		t.Errorf("status error %q, want Divide's state that does not encode", st.Err)
	}
	var last ratio
	must(t, json.Unmarshal(st.History[len(st.History)-1].State, &last))
	if last.Ratio != 1 {
		t.Errorf("the final state's ratio %v, want 1, as before Divide", last.Ratio)
	}
}
