package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flowgen/flowgen/runtime"
)

// Every test in the package must leave no goroutine behind: abandoned steps
// are released by their tests, and runs must not outlive their results.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// state is the run state of most tests.
type state struct {
	Log   []string `json:"log,omitempty"`
	N     int      `json:"n,omitempty"`
	Route string   `json:"route,omitempty"`
}

// recorder is an effect ledger: what ran, with which idempotency key.
type recorder struct {
	mu  sync.Mutex
	ops []string // "exec A", "undo A"
	key map[string][]string
}

func newRecorder() *recorder { return &recorder{key: map[string][]string{}} }

func (r *recorder) add(op string, ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
	r.key[op] = append(r.key[op], runtime.IdempotencyKey(ctx))
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

// keys returns the idempotency keys op ran with, in order.
func (r *recorder) keys(op string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.key[op])
}

func (r *recorder) count(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, o := range r.ops {
		if o == op {
			n++
		}
	}
	return n
}

func (r *recorder) filter(prefix string) []string {
	var out []string
	for _, o := range r.all() {
		if len(o) >= len(prefix) && o[:len(prefix)] == prefix {
			out = append(out, o)
		}
	}
	return out
}

// okStep is a step that records itself and succeeds, with a recording rollback.
func okStep(rec *recorder, id string, opts ...runtime.StepOption[state]) *runtime.Step[state] {
	all := append([]runtime.StepOption[state]{runtime.WithRollback(func(ctx context.Context, s *state) error {
		rec.add("undo "+id, ctx)
		return nil
	})}, opts...)
	return runtime.NewStep(id, func(ctx context.Context, s *state) (runtime.Outcome, error) {
		rec.add("exec "+id, ctx)
		s.Log = append(s.Log, id)
		return runtime.OutcomeOK, nil
	}, all...)
}

func mustRegister(t testing.TB, f *runtime.Flow[state], steps ...*runtime.Step[state]) {
	t.Helper()
	if err := f.Register(steps...); err != nil {
		t.Fatal(err)
	}
}

// transitions renders a history as "from>to" pairs, for compact comparisons.
func transitions(h []runtime.Event) []string {
	out := make([]string, len(h))
	for i, e := range h {
		out[i] = e.From + ">" + e.To
	}
	return out
}

func eventsTo(h []runtime.Event, to string) []runtime.Event {
	var out []runtime.Event
	for _, e := range h {
		if e.To == to {
			out = append(out, e)
		}
	}
	return out
}

var errBoom = errors.New("boom")

func stepIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("S%d", i+1)
	}
	return ids
}

// recordingClock wraps a FakeClock and records every timer's duration. If
// fire says so, a new timer fires at once (the clock jumps to it): a test can
// skip backoffs while attempt timeouts stay pending.
type recordingClock struct {
	*runtime.FakeClock
	fire   func(d time.Duration) bool
	mu     sync.Mutex
	timers []time.Duration
}

func (c *recordingClock) After(d time.Duration) <-chan time.Time {
	ch, _ := c.Timer(d)
	return ch
}

func (c *recordingClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	c.timers = append(c.timers, d)
	c.mu.Unlock()
	ch, stop := c.FakeClock.Timer(d)
	if c.fire != nil && c.fire(d) {
		c.Advance(d)
	}
	return ch, stop
}

func (c *recordingClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.timers)
}
