package runtime_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// BenchmarkParallel10 compares a parallel block of 10 branches with the
// same 10 steps run one after the other, measured in the same run and
// interleaved, both on the memory sink with a rollback per step (and, for
// the branches, a merge of the field each writes). Two workloads:
//   - noop: the steps do nothing, so the ratio is the block's overhead (a
//     goroutine per branch, and a fork and a join event per branch where a
//     sequential step has one event);
//   - io1ms: each step waits 1ms (a remote call), so the ratio is what
//     running the branches at the same time buys.
//
// Run: go test -run '^$' -bench Parallel10 ./runtime/
func BenchmarkParallel10(b *testing.B) {
	for _, wl := range []struct {
		name string
		work time.Duration
	}{{"noop", 0}, {"io1ms", time.Millisecond}} {
		b.Run(wl.name, func(b *testing.B) {
			par, seq := parallel10(wl.work), sequential10(wl.work)
			ctx := context.Background()
			var tPar, tSeq time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := par.Execute(ctx, benchState{ID: "p"}); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := seq.Execute(ctx, benchState{ID: "s"}); err != nil {
					b.Fatal(err)
				}
				tPar += t1.Sub(t0)
				tSeq += time.Since(t1)
			}
			b.ReportMetric(float64(tPar.Nanoseconds())/float64(b.N), "parallel-ns/run")
			b.ReportMetric(float64(tSeq.Nanoseconds())/float64(b.N), "sequential-ns/run")
			b.ReportMetric(float64(tPar)/float64(tSeq), "x-sequential")
		})
	}
}

func benchBody(work time.Duration) func(context.Context, *benchState) (runtime.Outcome, error) {
	return func(context.Context, *benchState) (runtime.Outcome, error) {
		if work > 0 {
			time.Sleep(work)
		}
		return runtime.OutcomeOK, nil
	}
}

func parallel10(work time.Duration) *runtime.Flow[benchState] {
	f := runtime.New[benchState]("bench-parallel", runtime.WithSink(runtime.NewMemorySink()))
	undo := func(context.Context, *benchState) error { return nil }
	branches := make([]*runtime.Step[benchState], benchSteps)
	for i := range branches {
		branches[i] = runtime.NewStep(fmt.Sprintf("Branch%d", i), benchBody(work),
			runtime.WithRollback(undo), runtime.WithRetry[benchState](runtime.RetryPolicy{Attempts: 3, Initial: time.Millisecond}),
			runtime.WithWrites(func(dst, src *benchState) { dst.Count = src.Count }))
	}
	if err := f.Register(runtime.NewParallel("Block", branches)); err != nil {
		panic(err)
	}
	return f
}

func sequential10(work time.Duration) *runtime.Flow[benchState] {
	f := runtime.New[benchState]("bench-sequential", runtime.WithSink(runtime.NewMemorySink()))
	undo := func(context.Context, *benchState) error { return nil }
	for i := range benchSteps {
		if err := f.Register(runtime.NewStep(fmt.Sprintf("Step%d", i), benchBody(work),
			runtime.WithRollback(undo), runtime.WithRetry[benchState](runtime.RetryPolicy{Attempts: 3, Initial: time.Millisecond}))); err != nil {
			panic(err)
		}
	}
	return f
}
