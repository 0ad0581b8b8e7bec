package dsl_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/internal/growth"
)

// Growth of Check on the shapes whose checks follow paths: 1.0 is linear
// (internal/growth). BenchmarkCheck10000 (bench_test.go) covers a flow of
// every kind of step, without cycles or calls.
//
//	go test -run '^$' -bench 'Check.*Growth' -benchtime 3x ./dsl

// checkCase is Check of src, parsed beforehand; n is its size in units.
func checkCase(b *testing.B, n int, src string) growth.Case {
	f, ds := flowfile.Parse("big.flow", []byte(src))
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	return growth.Case{N: n, Run: func() { dsl.Check(f, dsl.CheckOptions{}) }}
}

// loopPairs is a flow of n steps in pairs, each pair a cycle of its own
// (B goes back to A): n/2 loops to report.
func loopPairs(n int) string {
	var b strings.Builder
	b.WriteString("flow Loops {\n")
	for i := range n / 2 {
		fmt.Fprintf(&b, "    step A%d { irreversible }\n    step B%d {\n        outcomes back\n        irreversible\n        on back -> A%d\n    }\n", i, i, i)
	}
	b.WriteString("}\n")
	return b.String()
}

// BenchmarkCheckLoopsGrowth checks flows of 1,000 and 10,000 steps in
// pairs that each form a loop (the `loop` warning, one per pair).
func BenchmarkCheckLoopsGrowth(b *testing.B) {
	growth.Report(b, "step", checkCase(b, 1000, loopPairs(1000)), checkCase(b, 10000, loopPairs(10000)))
}

// callChain is a file of n flows, each calling the next: no cycle, but
// every flow reaches all those after it.
func callChain(n int) string {
	var b strings.Builder
	for i := range n {
		call := "irreversible"
		if i+1 < n {
			call = fmt.Sprintf("call F%d\n        irreversible", i+1)
		}
		fmt.Fprintf(&b, "flow F%d {\n    state S\n    step A {\n        %s\n    }\n}\n", i, call)
	}
	return b.String()
}

// BenchmarkCheckCallsGrowth checks files of 500 and 5,000 flows that
// call one another in a chain (`call-cycle` follows the calls).
func BenchmarkCheckCallsGrowth(b *testing.B) {
	growth.Report(b, "flow", checkCase(b, 500, callChain(500)), checkCase(b, 5000, callChain(5000)))
}

// manyOutcomes is a flow whose Go step Decide declares n outcomes, each
// routed to one of ten steps after it.
func manyOutcomes(n int) string {
	var b strings.Builder
	b.WriteString("flow Outcomes {\n    state S\n    step Decide {\n        outcomes ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "o%d", i)
	}
	b.WriteString("\n        irreversible\n")
	for i := range n {
		fmt.Fprintf(&b, "        on o%d -> T%d\n", i, i%10)
	}
	b.WriteString("    }\n")
	for i := range 10 {
		fmt.Fprintf(&b, "    step T%d {\n        irreversible\n        on ok -> done\n    }\n", i)
	}
	b.WriteString("}\n")
	return b.String()
}

// BenchmarkCheckOutcomesGrowth checks flows with a step of 500 and one of
// 5,000 declared outcomes, each routed (manyOutcomes).
func BenchmarkCheckOutcomesGrowth(b *testing.B) {
	growth.Report(b, "outcome", checkCase(b, 500, manyOutcomes(500)), checkCase(b, 5000, manyOutcomes(5000)))
}
