package gen_test

import (
	"bytes"
	"fmt"
	"go/format"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/gen"
	"github.com/flowgen/flowgen/internal/cli"
)

// bigFlow is a flow of n steps that cycles through every kind of step:
// an rpc with a request, a response and an rpc rollback; a Go step with
// declared outcomes and transitions; an await with correlation and a
// timeout route; an rpc with a Go rollback and publications; a publish step.
func bigFlow(n int) []byte {
	var b strings.Builder
	b.WriteString("// Big is a generated benchmark flow.\nflow Big {\n    state BigState\n    retry 3 backoff 100ms..5s\n    timeout 10s\n")
	for i := range n {
		next := "done"
		if i+1 < n {
			next = fmt.Sprintf("S%d", i+1)
		}
		fmt.Fprintf(&b, "\n    // S%d is step %d.\n    step S%d {\n", i, i, i)
		switch i % 5 {
		case 0:
			b.WriteString("        rpc customers \"Customer.Create\" (Customer) -> CustomerID\n        retry 5 backoff 200ms..10s\n        rollback rpc customers \"Customer.Delete\" (CustomerID)\n")
		case 1:
			fmt.Fprintf(&b, "        irreversible\n        outcomes approved, rejected, needs_review\n        on approved -> %s\n        on rejected -> fail\n", next)
		case 2:
			fmt.Fprintf(&b, "        await payments \"payment.succeeded\" -> Payment correlate CustomerID timeout 72h\n        on timeout -> %s\n", next)
		case 3:
			fmt.Fprintf(&b, "        rpc subscriptions \"Subscription.Create\" (Plan) -> SubscriptionID\n        rollback Cancel%d\n        publish billing \"subscription.created\" (SubscriptionID)\n", i)
		case 4:
			b.WriteString("        publish mail \"welcome\" (Customer)\n        irreversible\n")
		}
		b.WriteString("    }\n")
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

// BenchmarkGenerate1000 is `flowgen gen` on a 1,000-step file, end to end
// in-process: read, parse, check (without loading the Go package), generate,
// format once, write. It reports the wall time, the CPU time (all threads,
// GC included; steadier than the wall time on a loaded machine), the ratio
// to the cost of gofmt on the output alone measured in the same run (the
// floor of any generator that formats its output), and the output size.
func BenchmarkGenerate1000(b *testing.B) {
	dir := b.TempDir()
	flow := filepath.Join(dir, "big.flow")
	out := filepath.Join(dir, "big_flow.go")
	if err := os.WriteFile(flow, bigFlow(1000), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.go"), []byte("package big\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func() {
		var stderr bytes.Buffer
		if code := cli.Main([]string{"gen", "-nopkg", flow}, nil, io.Discard, &stderr); code != 0 {
			b.Fatalf("flowgen gen: exit %d\n%s", code, stderr.String())
		}
	}
	run()
	generated, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	// The baseline, timed here rather than with testing.Benchmark, which
	// cannot run inside a benchmark.
	const rounds = 5
	start := time.Now()
	for range rounds {
		if _, err := format.Source(generated); err != nil {
			b.Fatal(err)
		}
	}
	gofmt := float64(time.Since(start).Nanoseconds()) / rounds
	b.ResetTimer()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		os.Remove(out) // an unchanged file is not rewritten: make each run write
		c0, _ := cpuTime()
		b.StartTimer()
		run()
		b.StopTimer()
		c1, ok := cpuTime()
		if ok {
			cpu += c1 - c0
		}
		b.StartTimer()
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/1e6, "ms/op")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e6, "cpu-ms/op")
	}
	b.ReportMetric(perOp/gofmt, "x-gofmt")
	b.ReportMetric(float64(len(generated))/1024, "KiB-out")
}

// BenchmarkGeneratePhases splits the work of BenchmarkGenerate1000 (without
// the file system) into parse+build, check and generate+format.
func BenchmarkGeneratePhases(b *testing.B) {
	src := bigFlow(1000)
	var load, check, generate float64
	for b.Loop() {
		t0 := time.Now()
		f, ds := flowfile.Load("big.flow", src, dsl.CheckOptions{})
		t1 := time.Now()
		if ds.HasErrors() {
			b.Fatal(ds)
		}
		if _, err := gen.Generate(f, gen.Options{Package: "big", Source: "big.flow"}); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		// Check alone, on the same model, to split Load.
		dsl.Check(f, dsl.CheckOptions{})
		t3 := time.Now()
		load += float64(t1.Sub(t0))
		generate += float64(t2.Sub(t1))
		check += float64(t3.Sub(t2))
	}
	n := float64(b.N) * 1e6
	b.ReportMetric((load-check)/n, "parse-ms")
	b.ReportMetric(check/n, "check-ms")
	b.ReportMetric(generate/n, "generate-ms")
}
