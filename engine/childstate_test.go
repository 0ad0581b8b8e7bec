package engine

import (
	"context"
	"math/big"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// ledgerState has a field whose JSON methods have pointer receivers, as
// math/big.Int's do: encoded as a value, encoding/json skips them and
// writes {}, which big.Int's UnmarshalJSON refuses.
type ledgerState struct {
	Total big.Int `json:"total"`
}

// A Go flow's call hands the engine the child's state as a value (the
// call's Input): the engine encoded it so, the total as {}, and the child
// did not start (its state did not decode), failing the call. It is
// encoded as a run's state is now (runtime.EncodeState).
func TestCallOfAGoFlowKeepsPointerJSONMethods(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	saw := make(chan string, 1)
	credit := runtime.New[ledgerState]("Credit", e.RuntimeOptions()...)
	if err := credit.Register(runtime.NewStep("Add", func(_ context.Context, s *ledgerState) (runtime.Outcome, error) {
		saw <- s.Total.String()
		s.Total.Add(&s.Total, big.NewInt(5))
		return runtime.OutcomeOK, nil
	}, runtime.WithIrreversible[ledgerState]())); err != nil {
		t.Fatal(err)
	}
	book := runtime.New[ledgerState]("Book", e.RuntimeOptions()...)
	if err := book.Register(runtime.NewCall("Credit", credit, func(s *ledgerState) ledgerState {
		var c ledgerState
		c.Total.Set(&s.Total)
		return c
	}, func(s *ledgerState) *ledgerState { return s })); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*runtime.Flow[ledgerState]{credit, book} {
		if err := RegisterFlow(e, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	id, err := e.StartRun(context.Background(), "Book", []byte(`{"total": 21}`), "book-1")
	if err != nil {
		t.Fatal(err)
	}
	var st RunStatus
	waitFor(t, "the run's end", func() bool {
		st, err = e.Status(context.Background(), id)
		return err == nil && st.State.Terminal()
	})
	if st.State != runtime.StateDone {
		t.Fatalf("the run ended %s (%s), want done", st.State, st.Err)
	}
	if got := <-saw; got != "21" {
		t.Errorf("the child's step saw total %s, want 21", got)
	}
	if got := string(st.Snapshot); got != `{"total":26}` {
		t.Errorf("the run's final state %s, want total 26", got)
	}
}
