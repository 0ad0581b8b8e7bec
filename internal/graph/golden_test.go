package graph

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/internal/tooltest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/graph")

const goldenDir = "../../testdata/graph"

// goldenCases returns the case directories of testdata/graph.
func goldenCases(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(goldenDir, "*", "input.flow"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases in %s (%v)", goldenDir, err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// loadCase loads a case's input with every check but the Go package
// ones: a golden must come from a flow that is valid.
func loadCase(t *testing.T, dir string) *dsl.File {
	t.Helper()
	name := filepath.Join(dir, "input.flow")
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := flowfile.Load("input.flow", src, dsl.CheckOptions{})
	if diags.HasErrors() || f == nil {
		var b bytes.Buffer
		diag.Fprint(&b, diags, func(string) []byte { return src }, 0)
		t.Fatalf("%s does not check:\n%s", name, b.String())
	}
	return f
}

func TestGolden(t *testing.T) {
	for _, dir := range goldenCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := loadCase(t, dir)
			for _, c := range []struct {
				file   string
				render func(*dsl.File, string) ([]byte, error)
			}{{"want.dot", DOT}, {"want.mmd", Mermaid}, {"want.svg", SVG}} {
				got, err := c.render(f, "")
				if err != nil {
					t.Fatal(err)
				}
				again, _ := c.render(f, "")
				if !bytes.Equal(got, again) {
					t.Errorf("%s: two renders differ", c.file)
				}
				path := filepath.Join(dir, c.file)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
				}
			}
		})
	}
}

// Every golden Mermaid file passes the strict structural check.
func TestGoldenMermaidStructure(t *testing.T) {
	for _, dir := range goldenCases(t) {
		path := filepath.Join(dir, "want.mmd")
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range checkMermaid(src) {
			t.Errorf("%s: %s", path, e)
		}
	}
}

// Every golden DOT file renders with Graphviz without a warning.
func TestGoldenDOTRenders(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("Graphviz `dot` is not on PATH: install graphviz (apt-get install graphviz) to render the DOT goldens")
	}
	for _, dir := range goldenCases(t) {
		path := filepath.Join(dir, "want.dot")
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(dot, "-Tsvg", path)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("dot -Tsvg %s: %v\n%s", path, err, stderr.String())
			continue
		}
		if stderr.Len() > 0 {
			t.Errorf("dot -Tsvg %s warned:\n%s", path, stderr.String())
		}
		if !bytes.Contains(stdout.Bytes(), []byte("<svg")) {
			t.Errorf("dot -Tsvg %s: no SVG in output", path)
		}
	}
}

// Every golden Mermaid file parses with Mermaid's own parser. That needs
// node and the npm packages of testdata/mermaid (npm ci --prefix
// internal/graph/testdata/mermaid); without them the test skips, unless
// FLOWGEN_REQUIRE_MERMAID says the environment promised them (CI).
func TestGoldenMermaidParses(t *testing.T) {
	const env, install = "FLOWGEN_REQUIRE_MERMAID", "run `npm ci --prefix internal/graph/testdata/mermaid` to check the Mermaid goldens with the real parser"
	node := tooltest.Look(t, env, install, "node")
	if _, err := os.Stat("testdata/mermaid/node_modules/mermaid"); err != nil {
		tooltest.Missing(t, env, "the mermaid npm package is not installed", install)
	}
	args := []string{"testdata/mermaid/check.mjs"}
	for _, dir := range goldenCases(t) {
		args = append(args, filepath.Join(dir, "want.mmd"))
	}
	out, err := exec.Command(node, args...).CombinedOutput()
	if err != nil {
		t.Errorf("mermaid parse failed: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

// corpus returns the valid flows this repository keeps as test inputs: the
// graph goldens, the language corpus of testdata/flows/good and the
// examples.
func corpus(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*", "input.flow"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "flows", "good", "*.flow"))
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "*.flow"))
	out := map[string][]byte{}
	for _, name := range slices.Concat(files, more, examples) {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = src
	}
	return out
}

// Every valid flow of the corpus draws a DOT that Graphviz renders without
// a warning and a Mermaid diagram that passes the strict check.
func TestCorpusDiagramsValid(t *testing.T) {
	dot, _ := exec.LookPath("dot")
	for name, src := range corpus(t) {
		f, diags := flowfile.Load(filepath.Base(name), src, dsl.CheckOptions{})
		if diags.HasErrors() {
			continue // the language corpus may hold flows only the parser accepts
		}
		m, err := Mermaid(f, "")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, e := range checkMermaid(m) {
			t.Errorf("%s: mermaid: %s", name, e)
		}
		d, err := DOT(f, "")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if dot == "" {
			continue
		}
		var stderr bytes.Buffer
		cmd := exec.Command(dot, "-Tsvg", "-o", os.DevNull)
		cmd.Stdin, cmd.Stderr = bytes.NewReader(d), &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("%s: dot -Tsvg: %v\n%s", name, err, stderr.String())
		}
	}
}

// FuzzMermaid: whatever flow checks clean, its Mermaid passes the strict
// check, DOT renders, and its SVG, laid out by this package (flowgen graph
// -format svg or html), passes checkSVG; no renderer panics.
func FuzzMermaid(f *testing.F) {
	for _, src := range corpus(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, diags := flowfile.Load("fuzz.flow", src, dsl.CheckOptions{})
		if diags.HasErrors() || file == nil {
			return
		}
		if _, err := DOT(file, ""); err != nil {
			t.Fatalf("DOT of a checked flow: %v", err)
		}
		m, err := Mermaid(file, "")
		if err != nil {
			t.Fatalf("Mermaid of a checked flow: %v", err)
		}
		if errs := checkMermaid(m); len(errs) > 0 {
			t.Fatalf("invalid mermaid: %v\n%s", errs, m)
		}
		checkSVG(t, file)
	})
}
