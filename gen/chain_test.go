package gen_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/gen"
)

// A condition of many terms is written as chains of at most 32 operands
// (gen's maxChain), in parentheses: gofmt, which formats the generated
// file, is quadratic in the length of one chain (BenchmarkGenerateConditionGrowth).
// TestConditionsAgreeWithEval runs such conditions.
func TestLongConditionGrouped(t *testing.T) {
	f, ds := flowfile.Load("big.flow", conditionFlow(2000), dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	files, err := gen.Generate(f, gen.Options{Package: "big", Source: "big.flow"})
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		file, err := parser.ParseFile(token.NewFileSet(), name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		longest := 0
		ast.Inspect(file, func(n ast.Node) bool {
			if e, ok := n.(*ast.BinaryExpr); ok && (e.Op == token.LAND || e.Op == token.LOR) {
				longest = max(longest, chainLen(e))
			}
			return true
		})
		if longest > 32 {
			t.Errorf("%s: a chain of %d operands, want at most 32", name, longest)
		}
		if longest < 2 {
			t.Errorf("%s: no chain of && or ||: the conditions were not generated", name)
		}
	}
}

// chainLen is the number of operands of the chain of e's operator that
// ends with e, without parentheses: a && b && c is ((a && b) && c).
func chainLen(e *ast.BinaryExpr) int {
	n := 2
	for x, ok := e.X.(*ast.BinaryExpr); ok && x.Op == e.Op; x, ok = x.X.(*ast.BinaryExpr) {
		n++
	}
	return n
}
