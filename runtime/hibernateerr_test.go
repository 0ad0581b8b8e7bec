package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// shipError and voidError are errors of the flow's own types, which a
// caller finds in Result.Err with errors.As.
type shipError struct{}

func (shipError) Error() string { return "no parcel service" }

type voidError struct{}

func (voidError) Error() string { return "the card service refused the void" }

type hibState struct {
	Paid bool `json:"paid"`
}

// A run whose unwind waits (a rollback call parks it, and with a sink
// that loads histories it lets go of its progress until its child ends)
// ends with the errors its steps and rollbacks returned, not their text
// read back from its history: Result.Err wraps the failing step's error
// and each failed rollback's, as it does when nothing waits, so
// errors.As and errors.Is (ErrHistoryLimit, ErrTimeout) find them. Before,
// the wake-up rebuilt them from the history's text, and errors.As found
// neither.
func TestUnwindThatWaitsKeepsErrors(t *testing.T) {
	for _, sink := range []struct {
		name string
		sink runtime.Sink
	}{
		{"loads histories", runtime.NewMemorySink()},
		{"no history", runtime.SinkFunc(func(context.Context, runtime.Event) error { return nil })},
	} {
		for _, voidFails := range []bool{false, true} {
			refund := runtime.New[hibState]("Refund", runtime.WithSink(sink.sink))
			if err := refund.Register(runtime.NewStep("Give", func(ctx context.Context, s *hibState) (runtime.Outcome, error) {
				return "", nil
			}, runtime.WithIrreversible[hibState]())); err != nil {
				t.Fatal(err)
			}
			order := runtime.New[hibState]("Order", runtime.WithSink(sink.sink))
			if err := order.Register(
				runtime.NewStep("Pay", func(ctx context.Context, s *hibState) (runtime.Outcome, error) {
					s.Paid = true
					return "", nil
				}, runtime.WithRollbackCall(refund, func(s *hibState) hibState { return *s })),
				runtime.NewStep("Hold", func(ctx context.Context, s *hibState) (runtime.Outcome, error) {
					return "", nil
				}, runtime.WithRollback(func(ctx context.Context, s *hibState) error {
					if voidFails {
						return runtime.Permanent(voidError{})
					}
					return nil
				})),
				runtime.NewStep("Ship", func(ctx context.Context, s *hibState) (runtime.Outcome, error) {
					return "", runtime.Permanent(shipError{})
				}, runtime.WithIrreversible[hibState]()),
			); err != nil {
				t.Fatal(err)
			}
			res, err := order.Execute(context.Background(), hibState{})
			want := runtime.StateCompensated
			if voidFails {
				want = runtime.StateCompensationFailed
			}
			if res.Final != want {
				t.Fatalf("%s: ended %s (%v), want %s", sink.name, res.Final, err, want)
			}
			var se *runtime.StepError
			if !errors.As(err, &se) || !errors.As(err, new(shipError)) {
				t.Errorf("%s: Result.Err %q (%T) does not wrap the step's shipError", sink.name, err, err)
			}
			if voidFails && !errors.As(err, new(voidError)) {
				t.Errorf("%s: Result.Err %q does not wrap the rollback's voidError", sink.name, err)
			}
		}
	}
}
