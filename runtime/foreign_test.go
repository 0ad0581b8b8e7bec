package runtime

import (
	"context"
	"errors"
	"testing"
)

// The hooks for other executors answer as a run of the runtime would: the
// flow's routing, and an attempt's context with its idempotency key.
func TestForeignRouteAndAction(t *testing.T) {
	var keys []string
	exec := func(ctx context.Context, s *int) (Outcome, error) {
		keys = append(keys, IdempotencyKey(ctx))
		*s++
		return "again", nil
	}
	f := New[int]("F")
	err := f.Register(
		NewStep[int]("A", exec, WithNext[int]("again", "A"), WithRollback[int](func(ctx context.Context, s *int) error {
			keys = append(keys, IdempotencyKey(ctx))
			return nil
		})),
		NewStep[int]("B", exec),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ step, out, want string }{
		{"A", "", "B"}, {"A", OutcomeOK, "B"}, {"A", "again", "A"}, {"A", OutcomeError, Fail},
		{"B", OutcomeOK, Done}, {"B", OutcomeTimeout, Fail},
	} {
		if got, err := f.Route(c.step, c.out); err != nil || got != c.want {
			t.Errorf("Route(%s, %q) = %q, %v; want %q", c.step, c.out, got, err, c.want)
		}
	}
	if _, err := f.Route("B", "again"); !errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("an unrouted outcome: %v", err)
	}
	s := 0
	out, err := f.ExecAction(context.Background(), Action{RunID: "r", Step: "A", Visit: 2, Attempt: 3}, &s)
	if err != nil || out != "again" || s != 1 {
		t.Errorf("ExecAction = %q, %v, state %d", out, err, s)
	}
	if err := f.RollbackAction(context.Background(), Action{RunID: "r", Step: "A"}, &s); err != nil {
		t.Fatal(err)
	}
	if err := f.RollbackAction(context.Background(), Action{RunID: "r", Step: "B"}, &s); err != nil {
		t.Errorf("a step without rollback: %v", err)
	}
	if want := []string{"r/A#2", "r/A/rollback"}; len(keys) != 2 || keys[0] != want[0] || keys[1] != want[1] {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if got := EndState(false, true, false); got != StateCompensated {
		t.Errorf("EndState = %s", got)
	}
}
