package flowtemporal

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/flowgen/flowgen/runtime"
)

// The parallel block on the test environment: Reserve, then block Prepare
// with branches Stock, Card and Slow, then Ship. Each branch writes its
// own field (WithWrites) and has a rollback. The branches end in the
// order Stock, Card, Slow, each once the workflow holds the result of the
// one before (the test environment's completion listener says so), or not
// before the test is over: their ends are recorded in that order on any
// machine, however loaded.
type order struct {
	Reservation, Stock, Card, Slow, Shipped string
	Scratch                                 string // written by every branch, declared by none
}

type prepare struct {
	j       journal
	cardErr error // Card's error
	slowOK  bool  // Slow returns ok instead of "slow ran out"
	// cardGo and slowGo let Card and Slow end. The test environment drops
	// a cancelled activity without cancelling its context: one never let
	// go ends when the test does.
	cardGo, slowGo chan struct{}
}

// newPrepare lets Card end once the workflow holds Stock's result when
// card, and Slow once it holds Card's when slow; abort cancels the
// workflow once it holds Stock's result.
func newPrepare(t *testing.T, env *testsuite.TestWorkflowEnvironment, card, slow, abort bool) *prepare {
	p := &prepare{cardGo: make(chan struct{}), slowGo: make(chan struct{})}
	letCard, letSlow := sync.OnceFunc(func() { close(p.cardGo) }), sync.OnceFunc(func() { close(p.slowGo) })
	env.SetOnActivityCompletedListener(func(a *activity.Info, _ converter.EncodedValue, _ error) {
		switch {
		case a.ActivityType.Name == "Order.Stock" && abort:
			env.CancelWorkflow()
		case a.ActivityType.Name == "Order.Stock" && card:
			letCard()
		case a.ActivityType.Name == "Order.Card" && slow:
			letSlow()
		}
	})
	t.Cleanup(func() { letCard(); letSlow() })
	return p
}

func (p *prepare) flow(t *testing.T) *Flow[order] {
	t.Helper()
	undo := func(name string) runtime.StepOption[order] {
		return runtime.WithRollback(func(ctx context.Context, s *order) error {
			p.j.add("undo %s %s", name, runtime.IdempotencyKey(ctx))
			return nil
		})
	}
	branch := func(name string, do func(ctx context.Context, s *order) error, write func(dst, src *order)) *runtime.Step[order] {
		return runtime.NewStep(name, func(ctx context.Context, s *order) (runtime.Outcome, error) {
			s.Scratch = name
			if err := do(ctx, s); err != nil {
				p.j.add("fail %s %v", name, err)
				return "", err
			}
			p.j.add("do %s %s", name, runtime.IdempotencyKey(ctx))
			return runtime.OutcomeOK, nil
		}, runtime.WithWrites(write), undo(name), runtime.WithTimeout[order](time.Minute))
	}
	def := runtime.New[order]("Order")
	err := def.Register(
		runtime.NewStep("Reserve", func(ctx context.Context, s *order) (runtime.Outcome, error) {
			s.Reservation = "r1"
			p.j.add("do Reserve %s", runtime.IdempotencyKey(ctx))
			return runtime.OutcomeOK, nil
		}, undo("Reserve")),
		runtime.NewParallel("Prepare", []*runtime.Step[order]{
			branch("Stock", func(ctx context.Context, s *order) error {
				s.Stock = "stock for " + s.Reservation
				return nil
			}, func(dst, src *order) { dst.Stock = src.Stock }),
			branch("Card", func(ctx context.Context, s *order) error {
				<-p.cardGo
				s.Card = "card"
				return p.cardErr
			}, func(dst, src *order) { dst.Card = src.Card }),
			branch("Slow", func(ctx context.Context, s *order) error {
				select {
				case <-p.slowGo:
					if !p.slowOK {
						return errors.New("slow ran out")
					}
				case <-ctx.Done():
					return ctx.Err()
				}
				s.Slow = "slow"
				return nil
			}, func(dst, src *order) { dst.Slow = src.Slow }),
		}),
		runtime.NewStep("Ship", func(ctx context.Context, s *order) (runtime.Outcome, error) {
			s.Shipped = s.Stock + "+" + s.Card + "+" + s.Slow
			p.j.add("do Ship")
			return runtime.OutcomeOK, nil
		}, runtime.WithIrreversible[order]()),
	)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(def)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Every branch completes: each one's writes are merged, nothing else it
// changed; the block goes on to Ship; the history has each branch's fork
// and join (Event.Branch), which the runtime's Replay reads back.
func TestParallelDone(t *testing.T) {
	env := newEnv(t)
	p := newPrepare(t, env, true, true, false)
	p.slowOK = true
	f := p.flow(t)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, order{})
	wantEnd(t, env, runtime.StateDone)
	var final order
	if err := env.GetWorkflowResult(&final); err != nil {
		t.Fatal(err)
	}
	want := order{Reservation: "r1", Stock: "stock for r1", Card: "card", Slow: "slow", Shipped: "stock for r1+card+slow"}
	if d := cmp.Diff(want, final); d != "" {
		t.Errorf("final state (-want +got):\n%s", d)
	}
	st := status(t, env)
	got := transitions(st.History)
	wantH := []string{
		"pending>Reserve:running",
		"Reserve:running>Prepare:parallel",
		"Stock|Prepare:parallel>Stock:running",
		"Card|Prepare:parallel>Card:running",
		"Slow|Prepare:parallel>Slow:running",
		"Stock|Stock:running>Prepare:parallel",
		"Card|Card:running>Prepare:parallel",
		"Slow|Slow:running>Prepare:parallel",
		"Prepare:parallel>Ship:running",
		"Ship:running>done",
	}
	if d := cmp.Diff(wantH, got); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	if len(st.Branches) != 3 {
		t.Errorf("status branches %+v", st.Branches)
	}
	for _, l := range []string{"do Stock run-1/Stock", "do Card run-1/Card", "do Slow run-1/Slow"} {
		if !hasLine(p.j.get(), l) {
			t.Errorf("journal %q has no %q", p.j.get(), l)
		}
	}
}

// A branch that fails for good cancels the branch still running; the run
// fails and rolls back every completed step, the branch that completed
// before the failure first, then the step before the block.
func TestParallelBranchFails(t *testing.T) {
	env := newEnv(t)
	p := newPrepare(t, env, true, false, false)
	p.cardErr = runtime.Permanent(errors.New("card declined"))
	f := p.flow(t)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, order{})
	wantEnd(t, env, runtime.StateCompensated)
	// The test environment does not cancel a running activity: it drops
	// it (Slow goes on running; on a server its heartbeat brings the
	// cancellation). Slow ends only when the test does: nothing of it here.
	j := p.j.get()
	want := []string{
		"do Reserve run-1/Reserve",
		"do Stock run-1/Stock",
		"fail Card card declined",
		"undo Stock run-1/Stock/rollback",
		"undo Reserve run-1/Reserve/rollback",
	}
	if d := cmp.Diff(want, j); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	st := status(t, env)
	wantH := []string{
		"pending>Reserve:running",
		"Reserve:running>Prepare:parallel",
		"Stock|Prepare:parallel>Stock:running",
		"Card|Prepare:parallel>Card:running",
		"Slow|Prepare:parallel>Slow:running",
		"Stock|Stock:running>Prepare:parallel",
		"Card|Card:running>Prepare:parallel",
		"Slow|Slow:running>Prepare:parallel",
		"Prepare:parallel>failing",
		"failing>Stock:rollback",
		"Stock:rollback>failing",
		"failing>Reserve:rollback",
		"Reserve:rollback>failing",
		"failing>compensated",
	}
	if d := cmp.Diff(wantH, transitions(st.History)); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	h := st.History
	if e := h[6]; e.Outcome != runtime.OutcomeError || e.Error != "card declined" {
		t.Errorf("Card's end %+v", e)
	}
	if e := h[7]; e.Error != runtime.ErrBranchCancelled.Error() || e.Outcome != runtime.OutcomeError {
		t.Errorf("Slow's end %+v, want it cancelled", e)
	}
	if e := h[8]; e.Error != "branch Card: card declined" || e.Outcome != runtime.OutcomeError {
		t.Errorf("the block's end %+v", e)
	}
}

// An abort during the block cancels the running branches, then rolls back
// the completed ones and the step before, newest first; the run ends
// aborted.
func TestParallelAbort(t *testing.T) {
	env := newEnv(t)
	p := newPrepare(t, env, false, false, true)
	f := p.flow(t)
	f.Register(env)
	env.ExecuteWorkflow(f.Workflow, order{})
	wantEnd(t, env, runtime.StateAborted)
	j := p.j.get()
	if hasLine(j, "do Card") || hasLine(j, "do Slow") {
		t.Errorf("journal %q: want Card and Slow not done", j)
	}
	tail := j[len(j)-2:]
	if d := cmp.Diff([]string{"undo Stock run-1/Stock/rollback", "undo Reserve run-1/Reserve/rollback"}, tail); d != "" {
		t.Errorf("rollbacks (-want +got):\n%s", d)
	}
	st := status(t, env)
	for _, e := range st.History {
		if (e.Branch == "Card" || e.Branch == "Slow") && e.To == "Prepare:parallel" && e.Error != runtime.ErrAborted.Error() {
			t.Errorf("%s's end %+v, want it aborted", e.Branch, e)
		}
	}
	h := transitions(st.History)
	if d := cmp.Diff([]string{"Prepare:parallel>aborting", "aborting>Stock:rollback", "Stock:rollback>aborting",
		"aborting>Reserve:rollback", "Reserve:rollback>aborting", "aborting>aborted"}, h[len(h)-6:]); d != "" {
		t.Errorf("history's end (-want +got):\n%s", d)
	}
}
