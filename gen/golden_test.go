package gen

import (
	"bytes"
	"flag"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/want.go from the generator's output")

// goldenCase is one directory of testdata: input.flow, the want.go it
// generates, and the Go files (state.go, main.go) of a program that runs it.
type goldenCase struct {
	name, dir, pkg string
}

func goldenCases(t testing.TB) []goldenCase {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join("testdata", "*", "input.flow"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no testdata/*/input.flow: %v", err)
	}
	var cases []goldenCase
	for _, m := range matches {
		dir := filepath.Dir(m)
		// The package of the generated file is the one of the case's own
		// Go files, as the CLI finds it.
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "state.go"), nil, parser.PackageClauseOnly)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		cases = append(cases, goldenCase{name: filepath.Base(dir), dir: dir, pkg: f.Name.Name})
	}
	return cases
}

// generate loads input.flow of c (without loading Go packages), requires it
// to check without errors, and generates it with the types of the case's
// state.go (caseTypes).
func (c goldenCase) generate(t testing.TB) []byte {
	t.Helper()
	f := c.load(t)
	out, err := Generate(f, Options{Package: c.pkg, Source: "input.flow", Types: caseTypes(t, c.dir, c.pkg)})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(out) != 1 || out["input_flow.go"] == nil {
		t.Fatalf("Generate returned files %v, want input_flow.go only", keys(out))
	}
	return out["input_flow.go"]
}

// load reads input.flow of c and requires it to check without errors.
func (c goldenCase) load(t testing.TB) *dsl.File {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(c.dir, "input.flow"))
	if err != nil {
		t.Fatal(err)
	}
	f, ds := flowfile.Load("input.flow", src, dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatalf("%s/input.flow does not check: %v", c.dir, ds)
	}
	return f
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestGolden compares the generated code of every case with its want.go.
// Run with -update to rewrite them, then read the diff.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := c.generate(t)
			want := filepath.Join(c.dir, "want.go")
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantSrc, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./gen -run TestGolden -update)", err)
			}
			if diff := cmp.Diff(string(wantSrc), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", want, diff)
			}
		})
	}
}

// TestDeterministic generates every case twice, from two separate loads,
// and requires the same bytes.
func TestDeterministic(t *testing.T) {
	for _, c := range goldenCases(t) {
		a, b := c.generate(t), c.generate(t)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two generations differ:\n%s", c.name, cmp.Diff(string(a), string(b)))
		}
	}
}
