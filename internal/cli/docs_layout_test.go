package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/readmetest"
)

// The README's Layout table says what each package is: every package of
// the module is in it (by its path, or by its name in its parent's row,
// as `httpcall` in engine's), so that a reader who finds a directory
// finds why it is there. It left out internal/jsonenc and
// internal/jsonpath. Not listed one by one: the examples (their own
// section), the temporal module (one row), test data, and the packages
// internal to a listed package (runtime/store/internal/wal).
func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	layout := readmetest.Section(t, string(b), "README.md", "Layout")

	pkgs := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case d.Name() == ".git", d.Name() == "node_modules", d.Name() == "testdata",
				rel == "temporal", rel == "examples":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if dir != "." && !strings.Contains(dir, "/internal/") {
			pkgs[dir] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 20 {
		t.Fatalf("%d packages found: the walk went wrong", len(pkgs))
	}
	for dir := range pkgs {
		if !strings.Contains(layout, "`"+dir+"`") && !strings.Contains(layout, "`"+dir+"/`") &&
			!strings.Contains(layout, "`"+filepath.Base(dir)+"`") {
			t.Errorf("README.md's Layout table does not name the package %s", dir)
		}
	}
}
