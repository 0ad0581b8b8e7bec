package gen_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/dsl/gocheck"
	"github.com/flowgen/flowgen/gen"
	"github.com/flowgen/flowgen/internal/cli"
	"github.com/flowgen/flowgen/internal/growth"
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

// bigState is the Go package of bigFlow: its state type, whose fields'
// types the typed service ports take.
const bigState = `package big

type Customer struct{ Name, Email string }
type Payment struct {
	Amount        int
	CorrelationID string ` + "`json:\"correlation_id\"`" + `
}

type BigState struct {
	Customer                   Customer
	CustomerID, Plan           string
	SubscriptionID             string
	Payment                    Payment
}
`

// bigTypes type-checks bigState in process: the package the generator
// takes the ports' types from, without the go command.
func bigTypes(b *testing.B) *types.Package {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "state.go", bigState, 0)
	if err != nil {
		b.Fatal(err)
	}
	pkg, err := new(types.Config).Check("big", fset, []*ast.File{f}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return pkg
}

// BenchmarkGenerate1000 is `flowgen gen` on a 1,000-step file, end to end
// in-process: read, parse, load the Go package (for the state type's
// checks and the typed ports' types), check, generate, format once, write.
// It reports the wall time, the CPU time (all threads, GC included;
// steadier than the wall time on a loaded machine), the time of loading
// the package alone (gocheck.Load, the go command; same run), the ratio of
// the rest to the cost of gofmt on the output alone measured in the same
// run (the floor of any generator that formats its output), and the
// output size.
func BenchmarkGenerate1000(b *testing.B) {
	dir := b.TempDir()
	flow := filepath.Join(dir, "big.flow")
	out := filepath.Join(dir, "big_flow.go")
	for name, data := range map[string]string{"big.flow": string(bigFlow(1000)), "state.go": bigState, "go.mod": "module big\n\ngo 1.26\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	run := func() {
		var stderr bytes.Buffer
		if code := cli.Main([]string{"gen", flow}, nil, io.Discard, &stderr); code != 0 {
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
	// Loading the package: the go command, which the target leaves aside.
	start = time.Now()
	for range rounds {
		if _, err := gocheck.Load(dir); err != nil {
			b.Fatal(err)
		}
	}
	load := float64(time.Since(start).Nanoseconds()) / rounds
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
	b.ReportMetric(load/1e6, "load-ms")
	b.ReportMetric((perOp-load)/gofmt, "x-gofmt")
	b.ReportMetric(float64(len(generated))/1024, "KiB-out")
}

// BenchmarkGeneratePhases splits the work of BenchmarkGenerate1000 (without
// the file system) into parse+build, check and generate+format.
func BenchmarkGeneratePhases(b *testing.B) {
	src := bigFlow(1000)
	pkg := bigTypes(b)
	var load, check, generate float64
	for b.Loop() {
		t0 := time.Now()
		f, ds := flowfile.Load("big.flow", src, dsl.CheckOptions{})
		t1 := time.Now()
		if ds.HasErrors() {
			b.Fatal(ds)
		}
		if _, err := gen.Generate(f, gen.Options{Package: "big", Source: "big.flow", Types: pkg}); err != nil {
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

// growthFlow is a flow of n steps, each a kind whose generated code looks
// something up in the flow: a Go step with a Go rollback (its handler
// method's doc says whether it is a branch), a parallel block of two Go
// branches, a call of another flow of the file (the constructor's
// callees, named again in each function that builds a group of steps),
// and a Go step with declared outcomes.
func growthFlow(n int) []byte {
	var b strings.Builder
	b.WriteString("flow Big {\n    state BigState\n")
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "    step S%d {\n        rollback Undo%d\n    }\n", i, i)
		case 1:
			fmt.Fprintf(&b, "    parallel S%d {\n        step L%d {\n            writes Left\n            irreversible\n        }\n        step R%d {\n            writes Right\n            irreversible\n        }\n    }\n", i, i, i)
		case 2:
			fmt.Fprintf(&b, "    step S%d {\n        call Child\n        irreversible\n    }\n", i)
		case 3:
			fmt.Fprintf(&b, "    step S%d {\n        outcomes yes, no\n        irreversible\n        on no -> fail\n    }\n", i)
		}
	}
	b.WriteString("}\n\nflow Child {\n    state ChildState\n    step C {\n        irreversible\n    }\n}\n")
	return []byte(b.String())
}

// BenchmarkGenerateGrowth generates (gen.Generate, formatting included) a
// flow of 1,000 and one of 10,000 steps (growthFlow) in each iteration and
// reports the cost per step of the large one over that of the small one,
// measured in the same run: 1.0 is linear growth.
//
//	go test -run '^$' -bench GenerateGrowth -benchtime 3x ./gen
func BenchmarkGenerateGrowth(b *testing.B) {
	growth.Report(b, "step", generateCase(b, 1000, growthFlow(1000)), generateCase(b, 10000, growthFlow(10000)))
}

// generateCase is gen.Generate of src, loaded beforehand; n is its size
// in units.
func generateCase(b *testing.B, n int, src []byte) growth.Case {
	f, ds := flowfile.Load("big.flow", src, dsl.CheckOptions{})
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	return growth.Case{N: n, Run: func() {
		if _, err := gen.Generate(f, gen.Options{Package: "big", Source: "big.flow"}); err != nil {
			b.Fatal(err)
		}
	}}
}

// conditionFlow is a flow whose choose has two conditions of n terms: one
// chain of `and`, one of `or` whose terms are pairs joined by `and`.
func conditionFlow(n int) []byte {
	ands := make([]string, n)
	ors := make([]string, n/2)
	for i := range n {
		ands[i] = fmt.Sprintf("N != %d", i)
	}
	for i := range ors {
		ors[i] = fmt.Sprintf("N > %d and N < %d", 2*i, 2*i+2)
	}
	return []byte("flow Big {\n    state S\n    step Route {\n        choose {\n" +
		"            when " + strings.Join(ands, " and ") + " -> A\n" +
		"            when " + strings.Join(ors, " or ") + " -> A\n" +
		"            otherwise -> fail\n        }\n    }\n    step A {\n        irreversible\n    }\n}\n")
}

// BenchmarkGenerateConditionGrowth generates the flow of conditionFlow of
// 1,000 and of 8,000 terms a condition in each iteration and reports the
// cost per term of the large one over the small one's: 1.0 is linear.
//
//	go test -run '^$' -bench GenerateConditionGrowth -benchtime 3x ./gen
func BenchmarkGenerateConditionGrowth(b *testing.B) {
	growth.Report(b, "term", generateCase(b, 1000, conditionFlow(1000)), generateCase(b, 8000, conditionFlow(8000)))
}
