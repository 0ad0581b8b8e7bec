package bench

import (
	"context"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Handwritten is Five written by hand: five activities in a row, each
// taking the state and returning it with N one higher, with Five's
// timeout (StartToClose 10 s) and Temporal's default retries.
func Handwritten(ctx workflow.Context, s FiveState) (FiveState, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for _, step := range []string{"Hand.A", "Hand.B", "Hand.C", "Hand.D", "Hand.E"} {
		if err := workflow.ExecuteActivity(ctx, step, s).Get(ctx, &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Step is each of Handwritten's activities.
func Step(_ context.Context, s FiveState) (FiveState, error) {
	s.N++
	return s, nil
}

// Steps are Five's handlers: each step adds one to N, as Step does.
type Steps struct{}

func (Steps) A(_ context.Context, s *FiveState) error { s.N++; return nil }
func (Steps) B(_ context.Context, s *FiveState) error { s.N++; return nil }
func (Steps) C(_ context.Context, s *FiveState) error { s.N++; return nil }
func (Steps) D(_ context.Context, s *FiveState) error { s.N++; return nil }
func (Steps) E(_ context.Context, s *FiveState) error { s.N++; return nil }
