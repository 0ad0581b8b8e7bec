package gen

import (
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/dsl/gocheck"
)

// hasGoFiles tells generated examples from flow-service examples: a
// directory without Go files holds flows that the engine runs from their
// JSON form, with no generated code.
func hasGoFiles(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(m) > 0
}

// TestExamplesUpToDate regenerates every .flow under examples/ in memory
// and requires the committed generated file to be exactly that, and the
// directory to carry the //go:generate line that regenerates it: a stale
// generated file fails the build here rather than surprising a reader.
func TestExamplesUpToDate(t *testing.T) {
	root := filepath.Join("..", "examples")
	var flows []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".flow") && hasGoFiles(filepath.Dir(path)) {
			flows = append(flows, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) < 2 {
		t.Fatalf("found %d .flow files under examples/, want signup and cancellation at least", len(flows))
	}
	for _, path := range flows {
		t.Run(filepath.ToSlash(path), func(t *testing.T) {
			dir, base := filepath.Split(path)
			// The directory as seen from the repository root, for messages.
			pkg := "./" + strings.TrimPrefix(filepath.ToSlash(filepath.Clean(dir)), "../")
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, ds := flowfile.Load(base, src, dsl.CheckOptions{})
			if ds.HasErrors() {
				t.Fatalf("%s does not check: %v", path, ds)
			}
			genPath := filepath.Join(dir, FileName(base))
			committed, err := os.ReadFile(genPath)
			if err != nil {
				t.Fatalf("%v: run go generate %s", err, pkg)
			}
			pf, err := parser.ParseFile(token.NewFileSet(), genPath, committed, parser.PackageClauseOnly)
			if err != nil {
				t.Fatal(err)
			}
			// The package's types, loaded as the command loads them.
			loaded, err := gocheck.Load(dir)
			if err != nil {
				t.Fatalf("loading %s: %v", pkg, err)
			}
			out, err := Generate(f, Options{Package: pf.Name.Name, Source: base, Types: loaded.Types})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(committed), string(out[FileName(base)])); diff != "" {
				t.Errorf("%s is stale; run go generate %s (-committed +generated):\n%s", genPath, pkg, diff)
			}
			if !hasGenerateLine(t, dir, base) {
				t.Errorf("no Go file in %s has //go:generate go run github.com/flowgen/flowgen/cmd/flowgen %s", dir, base)
			}
		})
	}
}

func hasGenerateLine(t *testing.T, dir, flow string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("//go:generate go run github.com/flowgen/flowgen/cmd/flowgen " + flow + "\n")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(src, line) {
			return true
		}
	}
	return false
}
