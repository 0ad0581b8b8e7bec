package runtime

import (
	"context"
	"fmt"
	"strconv"
)

// OutcomeOtherwise is the outcome of a choice (NewChoice) none of whose
// conditions held.
const OutcomeOtherwise Outcome = "otherwise"

// ChoiceOutcome is the outcome of a choice whose branch i (from 0) was the
// first whose condition held: "when1" for the first branch. The outcome is
// recorded on the event that leaves the step, so a run's history says
// which branch it took.
func ChoiceOutcome(i int) Outcome { return "when" + strconv.Itoa(i+1) }

// NewChoice returns a step that decides where the run goes from its state
// alone: it tries the conditions in order and ends with the outcome
// ChoiceOutcome(i) of the first that holds, or OutcomeOtherwise; Next
// (WithNext) routes each, and Register refuses a choice whose Next misses
// one of them. It changes nothing, inside the run or outside,
// so it has no rollback and is never retried: a condition's error (a state
// that does not have the type the condition compares, which only a
// JSON-defined flow can have) ends the step with the outcome error.
func NewChoice[S any](id string, when []func(s *S) (bool, error), opts ...StepOption[S]) *Step[S] {
	st := NewStep(id, func(_ context.Context, s *S) (Outcome, error) {
		for i, cond := range when {
			ok, err := cond(s)
			if err != nil {
				return "", Permanent(fmt.Errorf("condition %d of step %q: %w", i+1, id, err))
			}
			if ok {
				return ChoiceOutcome(i), nil
			}
		}
		return OutcomeOtherwise, nil
	}, opts...)
	st.choices = len(when) + 1
	return st
}

// checkChoice refuses a choice (NewChoice) whose Next does not route each
// outcome it can end with: a run that took the branch would fail there
// with ErrUnknownOutcome, though the flow could say so when it is built.
func checkChoice[S any](st *Step[S]) error {
	for i := range st.choices {
		out, what := OutcomeOtherwise, "none of its conditions holds"
		if i < st.choices-1 {
			out, what = ChoiceOutcome(i), "its condition "+strconv.Itoa(i+1)+" holds"
		}
		if _, ok := st.Next[out]; !ok {
			return fmt.Errorf("%w: step %q chooses, and its Next routes no outcome %q (when %s)", ErrDefinition, st.ID, out, what)
		}
	}
	return nil
}
