package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/json")

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// testdata/json/good: each .flow's JSON form is golden, and that JSON is a
// faithful input: it checks clean, prints back byte for byte, and draws the
// same diagrams as the .flow.
func TestJSONGoodGolden(t *testing.T) {
	t.Chdir(filepath.Join("..", "..", "testdata", "json"))
	flows, _ := filepath.Glob("good/*.flow")
	if len(flows) == 0 {
		t.Fatal("no cases in testdata/json/good")
	}
	for _, flow := range flows {
		name := strings.TrimSuffix(flow, ".flow")
		t.Run(filepath.Base(name), func(t *testing.T) {
			code, out, errs := runCLI("json", flow)
			if code != 0 || errs != "" {
				t.Fatalf("flowgen json %s: exit %d\n%s", flow, code, errs)
			}
			golden(t, name+".json", out)
			js := name + ".json"
			if code, _, errs := runCLI("check", "-nopkg", js); code != 0 || errs != "" {
				t.Errorf("flowgen check %s: exit %d\n%s", js, code, errs)
			}
			if code, again, errs := runCLI("json", js); code != 0 || again != out {
				t.Errorf("flowgen json %s: exit %d, not the same JSON back:\n%s\n%s", js, code, cmp.Diff(out, again), errs)
			}
			for _, format := range []string{"dot", "mermaid"} {
				_, fromFlow, _ := runCLI("graph", "-format", format, flow)
				_, fromJSON, _ := runCLI("graph", "-format", format, js)
				if fromFlow == "" || fromFlow != fromJSON {
					t.Errorf("graph -format %s differs between %s and %s:\n%s", format, flow, js, cmp.Diff(fromFlow, fromJSON))
				}
			}
		})
	}
}

// testdata/json/bad: each .json gets exit 1 and the diagnostics in its
// .stderr golden, positioned by JSON path (or line and column for syntax
// errors).
func TestJSONBadGolden(t *testing.T) {
	t.Chdir(filepath.Join("..", "..", "testdata", "json"))
	files, _ := filepath.Glob("bad/*.json")
	if len(files) == 0 {
		t.Fatal("no cases in testdata/json/bad")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			code, out, errs := runCLI("check", "-nopkg", file)
			if code != 1 || out != "" {
				t.Errorf("flowgen check %s: exit %d, stdout %q; want exit 1 and nothing on stdout", file, code, out)
			}
			golden(t, strings.TrimSuffix(file, ".json")+".stderr", errs)
			// Nothing else accepts it either.
			for _, verb := range []string{"json", "graph"} {
				if code, out, _ := runCLI(verb, file); code != 1 || out != "" {
					t.Errorf("flowgen %s %s: exit %d, stdout %q; want exit 1 and no output", verb, file, code, out)
				}
			}
		})
	}
}
