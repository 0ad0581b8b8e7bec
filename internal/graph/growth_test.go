package graph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/internal/growth"
)

// wideChoose is a flow whose first step chooses among n steps by n
// `when` lines: one rank n boxes wide, its n labelled edges all leaving
// one box.
func wideChoose(n int) string {
	var b strings.Builder
	b.WriteString("flow Wide {\n    state S\n    step Route {\n        choose {\n")
	for i := range n {
		fmt.Fprintf(&b, "            when N == %d -> T%d\n", i, i)
	}
	b.WriteString("            otherwise -> fail\n        }\n    }\n")
	for i := range n {
		fmt.Fprintf(&b, "    step T%d {\n        irreversible\n        on ok -> done\n    }\n", i)
	}
	b.WriteString("}\n")
	return b.String()
}

// BenchmarkLayoutChooseGrowth lays out (labels placed) a choose of 100
// and one of 1,000 lines in each iteration: "growth" is the time per line
// of the large one over the small one's (1.0 = linear; internal/growth).
// Each label's places were checked against every edge of its band, and
// each edge found against the list of those found, which the edges of a
// wide choose all were: 117 s of CPU for 1,000 lines; then each place was
// checked against every edge piece and label kept in its columns, O(n)
// there, and counted every edge it crossed (docs/benchmarks.md).
//
//	go test -run '^$' -bench LayoutChooseGrowth -benchtime 3x ./internal/graph
func BenchmarkLayoutChooseGrowth(b *testing.B) {
	layout := func(n int) growth.Case {
		f, ds := flowfile.Load("wide.flow", []byte(wideChoose(n)), dsl.CheckOptions{})
		if ds.HasErrors() {
			b.Fatal(ds)
		}
		d, err := build(f, "")
		if err != nil {
			b.Fatal(err)
		}
		return growth.Case{N: n, Run: func() {
			if _, err := layoutFlow(d.flows[0]); err != nil {
				b.Fatal(err)
			}
		}}
	}
	growth.Report(b, "line", layout(100), layout(1000))
}
