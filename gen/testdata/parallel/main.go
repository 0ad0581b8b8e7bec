// Command parallel runs the generated Order flow's parallel block: its
// branches run at the same time, the fields they write are merged back
// (and nothing else), and when a branch fails after the others completed,
// the completed branches are rolled back newest completion first, then the
// step before the block.
package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct {
	sink *runtime.MemorySink
	mu   *sync.Mutex
	undo *[]string // rollbacks in the order they ran
}

// completed waits until branch has completed in the run's history: the
// failing case orders the completions so that the rollback order is known.
func (h handlers) completed(ctx context.Context, branch string) {
	for {
		for _, e := range h.sink.History(runtime.RunID(ctx)) {
			if e.Branch == branch && e.Outcome == runtime.OutcomeOK {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
}

func (h handlers) undone(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.undo = append(*h.undo, what)
}

func (h handlers) Start(_ context.Context, s *OrderState) error {
	s.Started = true
	return nil
}

func (h handlers) Unstart(_ context.Context, s *OrderState) error {
	h.undone("Unstart")
	return nil
}

func (h handlers) Authorize(ctx context.Context, s *OrderState) error {
	if s.FailCheck {
		h.completed(ctx, "Reserve")
	}
	if s.Reservation != "" {
		return errors.New("a branch sees the state as the block started: no reservation yet")
	}
	s.Authorization, s.Card, s.Note = "auth-1", "visa", "discarded"
	return nil
}

func (h handlers) Void(_ context.Context, s *OrderState) error {
	h.undone("Void " + s.Authorization)
	return nil
}

func (h handlers) Check(ctx context.Context, s *OrderState) error {
	if s.FailCheck {
		h.completed(ctx, "Authorize")
		return runtime.Permanent(errors.New("address unknown"))
	}
	s.Checked = true
	return nil
}

func (h handlers) Ship(_ context.Context, s *OrderState) error {
	if s.Reservation != "res-1" || s.Authorization != "auth-1" || s.Card != "visa" || !s.Checked || s.Note != "" {
		return errors.New("the block did not merge what its branches wrote, and only that")
	}
	s.Shipped = true
	return nil
}

func (h handlers) Late(context.Context, *OrderState) error { return nil }

func run(fail bool) (runtime.Result[OrderState], *runtime.MemorySink, *OrderFlow, []string) {
	caller := runtime.NewMemoryCaller()
	var mu sync.Mutex
	var undo []string
	caller.Handle("inventory", "Stock.Reserve", runtime.HandleFunc(func(context.Context, []string) (string, error) { return "res-1", nil }))
	caller.Handle("inventory", "Stock.Release", runtime.HandleFunc(func(_ context.Context, res string) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		undo = append(undo, "Stock.Release "+res)
		return nil, nil
	}))
	sink := runtime.NewMemorySink()
	f, err := NewOrderFlow(handlers{sink: sink, mu: &mu, undo: &undo}, OrderServicesFromCaller(caller), runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewOrderFlow: %v", err)
	}
	res, _ := f.Execute(context.Background(), OrderState{Items: []string{"book"}, FailCheck: fail})
	return res, sink, f, slices.Clone(undo)
}

// branchLines are the events of one branch, in order.
func branchLines(sink *runtime.MemorySink, runID, branch string) []string {
	var out []runtime.Event
	for _, e := range sink.History(runID) {
		if e.Branch == branch {
			out = append(out, e)
		}
	}
	return check.Transitions(out)
}

func main() {
	res, sink, _, _ := run(false)
	check.Equal("ok: final", res.Final, runtime.StateDone)
	check.Equal("ok: shipped", res.State.Shipped, true)
	check.Equal("ok: note discarded", res.State.Note, "")
	for _, b := range []string{"Reserve", "Authorize", "Check"} {
		got := branchLines(sink, res.RunID, b)
		want := []string{"Prepare:parallel -> " + b + ":running", b + ":running -> Prepare:parallel [ok]"}
		check.Equal("ok: events of "+b, len(got) == 2 && got[0] == want[0] && got[1] == want[1], true)
	}
	var main []runtime.Event
	for _, e := range sink.History(res.RunID) {
		if e.Branch == "" {
			main = append(main, e)
		}
	}
	check.Equal("ok: the run's own events", len(main), 4)
	for i, want := range []string{
		"pending -> Start:running",
		"Start:running -> Prepare:parallel [ok]",
		"Prepare:parallel -> Ship:running [ok]",
		"Ship:running -> done [ok]",
	} {
		check.Equal("ok: event", check.Transitions(main)[i], want)
	}

	res, sink, f, undo := run(true)
	check.Equal("fail: final", res.Final, runtime.StateCompensated)
	check.Equal("fail: shipped", res.State.Shipped, false)
	// Reserve completed first, then Authorize: undone newest first, then
	// the step before the block.
	check.Equal("fail: rollbacks", slices.Equal(undo, []string{"Void auth-1", "Stock.Release res-1", "Unstart"}), true)
	got := branchLines(sink, res.RunID, "Check")
	check.Equal("fail: Check failed", got[len(got)-1], "Check:running -> Prepare:parallel [error]")
	st, err := f.Status(context.Background(), res.RunID)
	check.Equal("fail: status", err == nil && len(st.Branches) == 3, true)
	i := slices.IndexFunc(st.Branches, func(b runtime.Branch) bool { return b.Step == "Check" })
	check.Equal("fail: Check's status", i >= 0 && st.Branches[i].Outcome == runtime.OutcomeError && st.Branches[i].Err != "", true)
	println("parallel: ok")
}
