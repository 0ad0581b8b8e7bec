package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// TestNegativeDurationsRefused: Register refuses a step whose timeout,
// deadline or backoff bound is negative, naming the step and the field.
// Each is read as "> 0, else none", so before a negative one bound
// nothing: NewAwait(..., -time.Hour), documented to end the step once its
// timeout has passed, waited forever (the run's Wait had no deadline), and
// a negative Timeout or Deadline left the attempts unbounded.
func TestNegativeDurationsRefused(t *testing.T) {
	exec := func(context.Context, *state) (runtime.Outcome, error) { return "", nil }
	undo := func(context.Context, *state) error { return nil }
	for _, tc := range []struct {
		field string
		step  *runtime.Step[state]
	}{
		{"Timeout", runtime.NewStep("S", exec, runtime.WithTimeout[state](-time.Second))},
		{"Deadline", runtime.NewStep("S", exec, runtime.WithDeadline[state](-time.Second))},
		{"RollbackTimeout", runtime.NewStep("S", exec, runtime.WithRollback(undo), runtime.WithRollbackTimeout[state](-time.Second))},
		{"Retry.Initial", runtime.NewStep("S", exec, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 3, Initial: -time.Second}))},
		{"Retry.Max", runtime.NewStep("S", exec, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 3, Max: -time.Second}))},
		{"RollbackRetry.Initial", runtime.NewStep("S", exec, runtime.WithRollback(undo), runtime.WithRollbackRetry[state](runtime.RetryPolicy{Attempts: 3, Initial: -1}))},
		{"RollbackRetry.Max", runtime.NewStep("S", exec, runtime.WithRollback(undo), runtime.WithRollbackRetry[state](runtime.RetryPolicy{Attempts: 3, Max: -1}))},
		{"Await.Timeout", runtime.NewAwait[state]("topic", "event", nil, nil, -time.Hour, runtime.WithID[state]("S"))},
		{"RollbackAwait.Timeout", func() *runtime.Step[state] {
			st := runtime.NewStep("S", exec, runtime.WithRollback(undo))
			st.RollbackAwait = &runtime.Await[state]{Topic: "topic", Event: "event", Timeout: -time.Hour}
			return st
		}()},
	} {
		f := runtime.New[state]("negative", runtime.WithSubscriber(runtime.NewMemoryBus()))
		err := f.Register(tc.step)
		if !errors.Is(err, runtime.ErrDefinition) || !strings.Contains(err.Error(), `step "S": `+tc.field+" ") {
			t.Errorf("%s: Register = %v; want ErrDefinition naming step S and %s", tc.field, err, tc.field)
		}
	}
	// A branch of a parallel block is checked as a step.
	f := runtime.New[state]("negative-branch")
	err := f.Register(runtime.NewParallel("P", []*runtime.Step[state]{
		runtime.NewStep("B", exec, runtime.WithIrreversible[state](), runtime.WithTimeout[state](-time.Second)),
	}))
	if !errors.Is(err, runtime.ErrDefinition) || !strings.Contains(err.Error(), `step "B": Timeout -1s is negative`) {
		t.Errorf("branch: Register = %v; want ErrDefinition naming branch B", err)
	}
}
