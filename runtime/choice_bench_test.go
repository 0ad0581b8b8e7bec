package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// BenchmarkChoice10 measures the overhead of a choose step against a no-op
// Go step, as a ratio in the same run: a flow of 10 choose steps (each one
// condition on the state, as generated code compiles it, whose otherwise
// goes on to the next step) against a flow of 10 no-op Go steps, timed in
// interleaved blocks. x-noop is the choose flow's time over the Go flow's.
//
// Run: go test -run '^$' -bench Choice10 -count 3 ./runtime/
func BenchmarkChoice10(b *testing.B) {
	ctx := context.Background()
	sink := runtime.NewMemorySink()
	noop := runtime.New[benchState]("noop", runtime.WithSink(sink))
	choice := runtime.New[benchState]("choice", runtime.WithSink(sink))
	for i := range benchSteps {
		id := fmt.Sprintf("Step%d", i)
		next := runtime.Done
		if i+1 < benchSteps {
			next = fmt.Sprintf("Step%d", i+1)
		}
		if err := noop.Register(runtime.NewStep(id, func(context.Context, *benchState) (runtime.Outcome, error) {
			return runtime.OutcomeOK, nil
		})); err != nil {
			b.Fatal(err)
		}
		if err := choice.Register(runtime.NewChoice(id, []func(*benchState) (bool, error){
			func(s *benchState) (bool, error) { return s.Count > 100, nil },
		}, runtime.WithNext[benchState](runtime.ChoiceOutcome(0), runtime.Fail),
			runtime.WithNext[benchState](runtime.OutcomeOtherwise, next))); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range []*runtime.Flow[benchState]{noop, choice} {
		if res, err := f.Execute(ctx, benchState{ID: "x"}); err != nil || res.Final != runtime.StateDone {
			b.Fatalf("%s: %v %v", f.ID(), res.Final, err)
		}
	}
	runs := 0
	run := func(f *runtime.Flow[benchState]) func() {
		return func() {
			if runs++; runs%4096 == 0 {
				sink.Reset() // keep memory bounded; both flows share the cost
			}
			if _, err := f.Execute(ctx, benchState{ID: "x"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	noopOp, choiceOp := run(noop), run(choice)
	const block = 16
	var n, c blockCost
	for b.Loop() {
		n.run(block, noopOp)
		c.run(block, choiceOp)
	}
	b.ReportMetric(c.perOp(), "ns/op")
	b.ReportMetric(c.perOp()/benchSteps, "choice-ns/step")
	b.ReportMetric(n.perOp()/benchSteps, "noop-ns/step")
	b.ReportMetric(c.perOp()/n.perOp(), "x-noop")
}
