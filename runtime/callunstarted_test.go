package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// refusingSink refuses every event: no run of its flow can start. It loads
// histories (it has none), as a store whose disk is full does: a parent
// whose sink loads them calls only flows whose sinks do (Register).
type refusingSink struct{}

func (refusingSink) Emit(context.Context, runtime.Event) error {
	return errors.New("disk full")
}

func (refusingSink) LoadHistory(_ context.Context, runID string) ([]runtime.Event, error) {
	return nil, fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
}

// A call whose child cannot be started (here its flow's sink refuses the
// child's first event) fails its step saying so, and the parent's status
// lists no child: the run it would name does not exist. A rollback call's
// child that cannot be started is no child either.
func TestCallChildNotStartedIsNoChild(t *testing.T) {
	sink := runtime.NewMemorySink()
	child := runtime.New[billing]("Billing", runtime.WithSink(refusingSink{}))
	if err := child.Register(runtime.NewStep("Charge", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
		return "", nil
	}, runtime.WithIrreversible[billing]())); err != nil {
		t.Fatal(err)
	}
	refund := runtime.New[billing]("Refund", runtime.WithSink(refusingSink{}))
	if err := refund.Register(runtime.NewStep("PayBack", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
		return "", nil
	}, runtime.WithIrreversible[billing]())); err != nil {
		t.Fatal(err)
	}
	good := runtime.New[billing]("Good", runtime.WithSink(sink))
	if err := good.Register(runtime.NewStep("Charge", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
		return "", nil
	}, runtime.WithIrreversible[billing]())); err != nil {
		t.Fatal(err)
	}
	parent := runtime.New[parentState]("Order", runtime.WithSink(sink))
	if err := parent.Register(
		runtime.NewCall("Pay", good, func(s *parentState) billing { return s.Req }, nil,
			runtime.WithRollbackCall(refund, func(s *parentState) billing { return s.Req }),
			runtime.WithRollbackRetry[parentState](runtime.RetryPolicy{Attempts: 2})),
		runtime.NewCall("Bill", child, func(s *parentState) billing { return s.Req }, nil),
	); err != nil {
		t.Fatal(err)
	}
	res, err := parent.Execute(context.Background(), parentState{}, runtime.WithRunID("u-1"))
	if res.Final != runtime.StateCompensationFailed || !errors.Is(err, runtime.ErrChildNotStarted) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("final %s, %v: want the step failed as its child could not start, and the rollback too", res.Final, err)
	}
	st, err := parent.Status(context.Background(), "u-1")
	if err != nil {
		t.Fatal(err)
	}
	want := []runtime.RunRef{{Flow: "Good", RunID: "u-1@Pay"}}
	if !slices.Equal(st.Children, want) {
		t.Fatalf("children %v, want only %v: the others never existed", st.Children, want)
	}
	for _, c := range st.Children {
		if _, err := sink.LoadHistory(context.Background(), c.RunID); err != nil {
			t.Fatalf("listed child %s: %v", c.RunID, err)
		}
	}
	// The history says the same: no event names an unstarted child as
	// one that ended, and Replay lists the same children.
	h := sink.History("u-1")
	for _, e := range h {
		if e.Child != nil && e.Child.Flow != "Good" {
			t.Fatalf("event %d (%s -> %s) names child %v", e.Seq, e.From, e.To, e.Child)
		}
	}
	if rst, err := runtime.Replay(h); err != nil || !slices.Equal(rst.Children, want) {
		t.Fatalf("replayed children %v, %v", rst.Children, err)
	}
}
