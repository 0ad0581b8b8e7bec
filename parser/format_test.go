package parser

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata/fmt/*/want.flow, docs/language.md's grammar)")

// TestFormatGolden formats testdata/fmt/<case>/input.flow and compares the
// result with want.flow. Run with -update to rewrite want.flow, then review
// the diff: the goldens are the specification of the canonical layout.
func TestFormatGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "fmt", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fmt cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "input.flow"))
			if err != nil {
				t.Fatal(err)
			}
			f, diags := Parse("input.flow", src)
			if len(diags) > 0 {
				t.Fatal(diags)
			}
			got := Format(f)
			wantFile := filepath.Join(dir, "want.flow")
			if *update {
				if err := os.WriteFile(wantFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test ./parser -run FormatGolden -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Format(%s) (-want +got):\n%s", filepath.Join(dir, "input.flow"), diff)
			}
		})
	}
}

// formatCorpus is every good .flow file the tests know: the shared corpus
// and the fmt goldens, inputs and outputs.
func formatCorpus(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{
		filepath.Join("..", "testdata", "flows", "good", "*.flow"),
		filepath.Join("testdata", "fmt", "*", "*.flow"),
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("empty corpus")
	}
	return files
}

// TestFormatIdempotent: formatting formatted text changes nothing, every
// comment survives, and the output parses.
func TestFormatIdempotent(t *testing.T) {
	for _, name := range formatCorpus(t) {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkFormat(t, name, src)
	}
}

// checkFormat fails unless src, which must parse, formats idempotently and
// keeps every comment.
func checkFormat(t testing.TB, name string, src []byte) {
	t.Helper()
	f, diags := Parse(name, src)
	if len(diags) > 0 {
		t.Fatalf("%s: %v", name, diags)
	}
	once := Format(f)
	f2, diags := Parse(name, once)
	if len(diags) > 0 {
		t.Fatalf("%s: formatted text does not parse: %v\n%s", name, diags, once)
	}
	twice := Format(f2)
	if diff := cmp.Diff(string(once), string(twice)); diff != "" {
		t.Fatalf("%s: Format is not idempotent (-once +twice):\n%s", name, diff)
	}
	out := string(once)
	for _, c := range f.Comments {
		if text := strings.TrimRight(c.Text, " \t"); !strings.Contains(out, text) {
			t.Fatalf("%s: comment %q lost:\n%s", name, text, out)
		}
	}
	if len(f2.Comments) > len(f.Comments) {
		t.Fatalf("%s: %d comments became %d", name, len(f.Comments), len(f2.Comments))
	}
}

// TestFormatWantIsFixedPoint: every want.flow is already canonical.
func TestFormatWantIsFixedPoint(t *testing.T) {
	wants, _ := filepath.Glob(filepath.Join("testdata", "fmt", "*", "want.flow"))
	for _, name := range wants {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := Parse(name, src)
		if len(diags) > 0 {
			t.Fatalf("%s: %v", name, diags)
		}
		if diff := cmp.Diff(string(src), string(Format(f))); diff != "" {
			t.Errorf("%s is not canonical (-file +formatted):\n%s", name, diff)
		}
	}
}

func TestFormatNil(t *testing.T) {
	if got := Format(nil); got != nil {
		t.Errorf("Format(nil) = %q", got)
	}
	f, _ := Parse("x.flow", nil)
	if got := Format(f); len(got) != 0 {
		t.Errorf("Format(empty) = %q", got)
	}
}

// TestStepOrderDocumented keeps the order in which docs/language.md
// ("Steps") says fmt prints a step's statements equal to the order it
// prints them in (stepRank).
func TestStepOrderDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "language.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(strings.Join(strings.Fields(string(doc)), " "), "`flowgen fmt` prints them in this order: the action, ")
	if !ok {
		t.Fatal(`docs/language.md has no "flowgen fmt prints them in this order: the action, ..."`)
	}
	list, _, _ := strings.Cut(after, ".")
	var want []string
	for _, w := range strings.Split(list, ", ") {
		want = append(want, strings.Trim(w, "`"))
	}
	// One statement of each kind but the action, in reverse order.
	src := "flow A { step B { on ok -> done outcomes x publish t \"e\" irreversible rollback U deadline 1s timeout 1s retry 2 writes X rpc s \"E\" } }"
	f, diags := Parse("order.flow", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var got []string
	for _, line := range strings.Split(string(Format(f)), "\n") {
		if strings.HasPrefix(line, "        ") && !strings.HasPrefix(line, "        rpc ") {
			got = append(got, strings.Fields(line)[0])
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docs/language.md's order of a step's statements (-doc +fmt):\n%s", diff)
	}
}
