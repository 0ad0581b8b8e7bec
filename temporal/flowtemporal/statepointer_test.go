package flowtemporal

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/flowgen/flowgen/runtime"
)

// ledger is a state with a field whose JSON methods have pointer
// receivers, as math/big.Int's do: encoded as a value, encoding/json
// skips them and writes the field's unexported fields, {}, which
// big.Int's UnmarshalJSON then refuses.
type ledger struct {
	Total big.Int
	Note  string
}

// A state reaches every hop through the SDK whole: the run's start, each
// activity's input and result, a call's child's input and result, and the
// run's result. Each went as a value: the first activity's input lost the
// total (its decoding failed the attempt), and so would the others.
func TestStateWithPointerJSONMethodsCrossesEveryHop(t *testing.T) {
	var j journal
	credit := runtime.New[ledger]("Credit")
	must(t, credit.Register(runtime.NewStep("Add", func(_ context.Context, s *ledger) (runtime.Outcome, error) {
		j.add("Add saw %s", s.Total.String())
		s.Total.Add(&s.Total, big.NewInt(5))
		return runtime.OutcomeOK, nil
	}, runtime.WithIrreversible[ledger]())))
	book := runtime.New[ledger]("Book")
	must(t, book.Register(
		runtime.NewStep("Double", func(_ context.Context, s *ledger) (runtime.Outcome, error) {
			j.add("Double saw %s", s.Total.String())
			s.Total.Mul(&s.Total, big.NewInt(2))
			return runtime.OutcomeOK, nil
		}, runtime.WithIrreversible[ledger]()),
		runtime.NewCall("Credit", credit, func(s *ledger) ledger {
			var c ledger
			c.Total.Set(&s.Total)
			return c
		}, func(s *ledger) *ledger { return s }),
		runtime.NewStep("Check", func(_ context.Context, s *ledger) (runtime.Outcome, error) {
			j.add("Check saw %s", s.Total.String())
			return runtime.OutcomeOK, nil
		}, runtime.WithIrreversible[ledger]()),
	))
	tc, err := New(credit)
	must(t, err)
	tb, err := New(book, tc)
	must(t, err)
	env := newEnv(t)
	tb.Register(env)
	var start ledger
	start.Total.SetInt64(21)
	env.ExecuteWorkflow(WorkflowName("Book"), &start) // as Start sends it
	wantEnd(t, env, runtime.StateDone)
	if d := cmp.Diff([]string{"Double saw 21", "Add saw 42", "Check saw 47"}, j.get()); d != "" {
		t.Errorf("what the steps saw (-want +got):\n%s", d)
	}
	var final ledger
	must(t, env.GetWorkflowResult(&final))
	if final.Total.Int64() != 47 {
		t.Errorf("the run's result holds total %s, want 47", final.Total.String())
	}
}

// startRecorder is a client whose ExecuteWorkflow keeps its arguments
// encoded as the SDK's client sends them, and starts nothing.
type startRecorder struct {
	client.Client
	sent []byte
}

var errRecorded = errors.New("recorded, not started")

func (c *startRecorder) ExecuteWorkflow(_ context.Context, _ client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	p, err := converter.GetDefaultDataConverter().ToPayloads(args...)
	if err != nil {
		return nil, err
	}
	c.sent = p.Payloads[0].Data
	return nil, errRecorded
}

// Start sends the state whole: as a value it sent the total as {}.
func TestStartSendsAStateWithPointerJSONMethods(t *testing.T) {
	c := &startRecorder{}
	var s ledger
	s.Total.SetInt64(21)
	if _, err := Start(context.Background(), c, "Book", s, client.StartWorkflowOptions{ID: "r"}); !errors.Is(err, errRecorded) {
		t.Fatalf("Start: %v", err)
	}
	if got := string(c.sent); got != `{"Total":21,"Note":""}` {
		t.Errorf("Start sent %s, want the total", got)
	}
}
