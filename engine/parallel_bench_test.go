package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// parallel10JSON is a JSON flow with a parallel block of 10 Go branches
// (each with a rollback, writing one field) and one with the same 10 steps
// one after the other.
func parallel10JSON() string {
	var branches, steps []string
	for i := range 10 {
		step := fmt.Sprintf(`{"name": "S%d", "action": {"kind": "go"}, "rollback": {"name": "Undo"}%s}`, i, "%s")
		branches = append(branches, fmt.Sprintf(step, fmt.Sprintf(`, "writes": ["F%d"]`, i)))
		steps = append(steps, fmt.Sprintf(step, ""))
	}
	return `{"version": 1, "flows": [
  {"name": "Par", "state": "S", "steps": [{"name": "Block", "parallel": {"branches": [` + strings.Join(branches, ",") + `]}}]},
  {"name": "Seq", "state": "S", "steps": [` + strings.Join(steps, ",") + `]}]}`
}

// BenchmarkParallel10JSON is runtime's BenchmarkParallel10 for the
// compiled form: the two flows of parallel10JSON decoded, checked and
// compiled as the engine runs JSON flows (a generated .flow builds the same
// runtime steps), executed interleaved in one run, on the memory store
// (comparable with runtime's) and on the durable store (an fsync per
// event). Two workloads: noop (the block's overhead) and io1ms (each step
// waits 1ms, as a remote call would).
//
// Run: go test -run '^$' -bench Parallel10JSON ./engine/
func BenchmarkParallel10JSON(b *testing.B) {
	for _, wl := range []struct {
		name    string
		work    time.Duration
		durable bool
	}{{"memory/noop", 0, false}, {"memory/io1ms", time.Millisecond, false}, {"durable/noop", 0, true}, {"durable/io1ms", time.Millisecond, true}} {
		b.Run(wl.name, func(b *testing.B) {
			var st Store = store.NewMemory()
			if wl.durable {
				d, err := store.Open(b.TempDir(), store.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close()
				st = d
			}
			e, err := New(Options{Store: st, ID: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			f, ds := dsl.DecodeJSON("bench.json", []byte(parallel10JSON()))
			if ds.HasErrors() {
				b.Fatal(ds.Err())
			}
			for _, fl := range []string{"Par", "Seq"} {
				for i := range 10 {
					e.Registry().Step(fmt.Sprintf("%s.S%d", fl, i), func(context.Context, *State) (string, error) {
						if wl.work > 0 {
							time.Sleep(wl.work)
						}
						return "", nil
					})
				}
				e.Registry().Rollback(fl+".Undo", func(context.Context, *State) error { return nil })
			}
			if ds := dsl.Check(f, dsl.CheckOptions{}); ds.HasErrors() {
				b.Fatal(ds.Err())
			}
			par, err := e.compile(f.Flow("Par"))
			if err != nil {
				b.Fatal(err)
			}
			seq, err := e.compile(f.Flow("Seq"))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var tPar, tSeq time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := par.Execute(ctx, State{}, runtime.WithRunID(fmt.Sprintf("p-%d", i))); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := seq.Execute(ctx, State{}, runtime.WithRunID(fmt.Sprintf("s-%d", i))); err != nil {
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
