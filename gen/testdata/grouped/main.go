// Command grouped runs the generated Grouped flow, whose steps are built by
// two functions: a run takes every step in file order across them, and a
// failure at the last step rolls back every rpc step, newest first, then
// the first step.
package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct {
	mu   *sync.Mutex
	undo *[]string // rollbacks in the order they ran
}

func (h handlers) undone(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.undo = append(*h.undo, what)
}

func (h handlers) First(context.Context, *GroupedState) error { return nil }

func (h handlers) Unfirst(context.Context, *GroupedState) error {
	h.undone("Unfirst")
	return nil
}

func (h handlers) A(_ context.Context, s *GroupedState) error {
	s.GotA = true
	return nil
}

func (h handlers) B(_ context.Context, s *GroupedState) error {
	s.GotB = true
	return nil
}

func (h handlers) Last(_ context.Context, s *GroupedState) error {
	if s.FailLast {
		return runtime.Permanent(errors.New("last step refused"))
	}
	return nil
}

func run(fail bool) (runtime.Result[GroupedState], *runtime.MemorySink, []string) {
	var mu sync.Mutex
	var undo []string
	caller := runtime.NewMemoryCaller()
	caller.Handle("counter", "Counter.Add", runtime.HandleFunc(func(_ context.Context, n int) (int, error) { return n + 1, nil }))
	caller.Handle("counter", "Counter.Sub", runtime.HandleFunc(func(_ context.Context, n int) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		undo = append(undo, fmt.Sprintf("Counter.Sub %d", n))
		return nil, nil
	}))
	sink := runtime.NewMemorySink()
	f, err := NewGroupedFlow(handlers{mu: &mu, undo: &undo}, GroupedServicesFromCaller(caller), runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewGroupedFlow: %v", err)
	}
	res, _ := f.Execute(context.Background(), GroupedState{FailLast: fail})
	return res, sink, slices.Clone(undo)
}

func main() {
	res, sink, undo := run(false)
	check.Equal("ok: final", res.Final, runtime.StateDone)
	check.Equal("ok: rpc steps", res.State.N, 64)
	check.Equal("ok: branches", res.State.GotA && res.State.GotB, true)
	check.Equal("ok: rollbacks", len(undo), 0)
	var want []string
	want = append(want, "pending -> First:running", "First:running -> R1:running [ok]")
	for i := 1; i < 64; i++ {
		want = append(want, fmt.Sprintf("R%d:running -> R%d:running [ok]", i, i+1))
	}
	want = append(want, "R64:running -> Both:parallel [ok]")
	var main []runtime.Event
	for _, e := range sink.History(res.RunID) {
		if e.Branch == "" {
			main = append(main, e)
		}
	}
	got := check.Transitions(main)
	check.Equal("ok: events", len(got), len(want)+2)
	for i, w := range want {
		check.Equal(fmt.Sprintf("ok: event %d", i), got[i], w)
	}
	check.Equal("ok: last events", fmt.Sprint(got[len(want):]), "[Both:parallel -> Last:running [ok] Last:running -> done [ok]]")

	res, sink, undo = run(true)
	check.Equal("fail: final", res.Final, runtime.StateCompensated)
	// Every rpc step rolled back, newest first across both groups, then
	// the first step: the history's rollback states in order.
	var rolled []string
	for _, e := range sink.History(res.RunID) {
		if step, ok := strings.CutSuffix(e.To, ":rollback"); ok {
			rolled = append(rolled, step)
		}
	}
	want = nil
	for i := 64; i >= 1; i-- {
		want = append(want, fmt.Sprintf("R%d", i))
	}
	want = append(want, "First")
	check.Equal("fail: rollback order", fmt.Sprint(rolled), fmt.Sprint(want))
	check.Equal("fail: rollbacks called", len(undo), 65)
	check.Equal("fail: last called", undo[len(undo)-1], "Unfirst")
	println("grouped: ok")
}
