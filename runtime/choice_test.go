package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A choice whose Next leaves one of its outcomes unrouted is refused by
// Register, naming the step and the outcome, instead of failing with
// "unknown outcome" only the runs whose state takes that branch; one
// that routes them all, parallel branch or not, is taken.
func TestRegisterRefusesChoiceWithUnroutedOutcome(t *testing.T) {
	when := []func(*state) (bool, error){
		func(s *state) (bool, error) { return s.N > 1, nil },
		func(s *state) (bool, error) { return s.N > 0, nil },
	}
	next := func(skip runtime.Outcome) runtime.StepOption[state] {
		return func(st *runtime.Step[state]) {
			st.Next = map[runtime.Outcome]string{}
			for _, out := range []runtime.Outcome{runtime.ChoiceOutcome(0), runtime.ChoiceOutcome(1), runtime.OutcomeOtherwise} {
				if out != skip {
					st.Next[out] = runtime.Done
				}
			}
		}
	}
	for _, skip := range []runtime.Outcome{runtime.ChoiceOutcome(0), runtime.ChoiceOutcome(1), runtime.OutcomeOtherwise} {
		t.Run(skip, func(t *testing.T) {
			f := runtime.New[state]("choice")
			err := f.Register(runtime.NewChoice("Route", when, next(skip)))
			if !errors.Is(err, runtime.ErrDefinition) || !strings.Contains(err.Error(), `step "Route"`) || !strings.Contains(err.Error(), `"`+skip+`"`) {
				t.Fatalf("Register = %v, want ErrDefinition naming step Route and outcome %q", err, skip)
			}
			b := runtime.NewParallel("Both", []*runtime.Step[state]{
				runtime.NewChoice("Pick", when, next(skip)),
				runtime.NewStep("Other", func(context.Context, *state) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }),
			})
			if err := runtime.New[state]("block").Register(b); !errors.Is(err, runtime.ErrDefinition) || !strings.Contains(err.Error(), `"`+skip+`"`) {
				t.Errorf("Register of a block with the choice as a branch = %v, want ErrDefinition naming outcome %q", err, skip)
			}
		})
	}
	f := runtime.New[state]("choice")
	mustRegister(t, f, runtime.NewChoice("Route", when, next("")))
	if res, err := f.Execute(context.Background(), state{}); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("Execute = %s, %v", res.Final, err)
	}
}
