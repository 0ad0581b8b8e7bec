package store

// A test flow whose behaviour depends only on its state and the attempt,
// so a run resumed from any point of its history behaves as the original.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

type order struct {
	Scenario string `json:"scenario"`
	Reserved bool   `json:"reserved"`
	Charged  int    `json:"charged"`
	Shipped  bool   `json:"shipped"`
	Notified bool   `json:"notified,omitempty"`
}

// Scenarios and the state each ends in.
var scenarios = []struct {
	name  string
	final runtime.RunState
}{
	{"ok", runtime.StateDone},
	{"flaky-charge", runtime.StateDone},
	{"backorder", runtime.StateDone},
	{"ship-fails", runtime.StateCompensated},
	{"refund-fails", runtime.StateCompensationFailed},
}

// ledger records every execution of an effect by idempotency key.
type ledger struct {
	mu   sync.Mutex
	runs map[string]int
}

func newLedger() *ledger { return &ledger{runs: map[string]int{}} }

func (l *ledger) record(ctx context.Context) {
	l.mu.Lock()
	l.runs[runtime.IdempotencyKey(ctx)]++
	l.mu.Unlock()
}

func (l *ledger) count(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runs[key]
}

// orderSteps builds the steps; rename maps a step ID to another (to make a
// definition that no longer fits old histories), drop removes one.
func orderSteps(led *ledger, rename map[string]string, drop string) []*runtime.Step[order] {
	id := func(s string) string {
		if r, ok := rename[s]; ok {
			return r
		}
		return s
	}
	steps := []*runtime.Step[order]{
		{
			ID: id("Reserve"),
			Exec: func(ctx context.Context, s *order) (runtime.Outcome, error) {
				led.record(ctx)
				s.Reserved = true
				return runtime.OutcomeOK, nil
			},
			Rollback: func(ctx context.Context, s *order) error {
				led.record(ctx)
				s.Reserved = false
				return nil
			},
		},
		{
			ID:    id("Charge"),
			Retry: runtime.RetryPolicy{Attempts: 3, Initial: 100 * time.Millisecond},
			Exec: func(ctx context.Context, s *order) (runtime.Outcome, error) {
				led.record(ctx)
				if s.Scenario == "flaky-charge" && runtime.Attempt(ctx) == 1 {
					return "", errors.New("card network unavailable")
				}
				s.Charged = 100
				return runtime.OutcomeOK, nil
			},
			RollbackRetry: runtime.RetryPolicy{Attempts: 2},
			Rollback: func(ctx context.Context, s *order) error {
				led.record(ctx)
				if s.Scenario == "refund-fails" {
					return errors.New("refund rejected")
				}
				s.Charged = 0
				return nil
			},
		},
		{
			ID:   id("Ship"),
			Next: map[runtime.Outcome]string{"backorder": id("Notify"), runtime.OutcomeOK: runtime.Done},
			Exec: func(ctx context.Context, s *order) (runtime.Outcome, error) {
				led.record(ctx)
				switch s.Scenario {
				case "ship-fails", "refund-fails":
					return "", runtime.Permanent(fmt.Errorf("address %s is not deliverable", "unknown"))
				case "backorder":
					return "backorder", nil
				}
				s.Shipped = true
				return runtime.OutcomeOK, nil
			},
			Irreversible: true,
		},
		{
			ID: id("Notify"),
			Exec: func(ctx context.Context, s *order) (runtime.Outcome, error) {
				led.record(ctx)
				s.Notified = true
				return runtime.OutcomeOK, nil
			},
			Irreversible: true,
		},
	}
	out := steps[:0]
	for _, s := range steps {
		if s.ID != drop {
			out = append(out, s)
		}
	}
	return out
}

var clockStart = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func newOrderFlow(sink runtime.Sink, led *ledger, rename map[string]string, drop string) *runtime.Flow[order] {
	f := runtime.New[order]("Order", runtime.WithSink(sink), runtime.WithClock(runtime.NewAutoClock(clockStart)))
	if err := f.Register(orderSteps(led, rename, drop)...); err != nil {
		panic(err) // a bug in the test's own definition
	}
	return f
}
