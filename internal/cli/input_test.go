package cli

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgen/flowgen/dsl/gocheck"
)

// The inputs of one directory share its Go package: loading it runs the
// go command, so `flowgen check *.flow` loads it once, not once per file.
func TestInputsOfOneDirectoryLoadThePackageOnce(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	var paths []string
	for _, p := range []string{filepath.Join(dir, "a.flow"), filepath.Join(dir, "b.flow"), filepath.Join(other, "c.flow")} {
		if err := os.WriteFile(p, []byte("flow X {\n    step A { irreversible }\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	loads := map[string]int{}
	loadPackage = func(dir string) (*gocheck.Package, error) {
		loads[dir]++
		return gocheck.Load(dir)
	}
	t.Cleanup(func() { loadPackage = gocheck.Load })
	e := &env{stdout: io.Discard, stderr: io.Discard}
	ins, unread := e.readInputs(paths)
	if len(unread) > 0 {
		t.Fatal(unread)
	}
	for _, in := range ins {
		in.goPackage()
		in.goPackage()
	}
	if loads[ins[0].dir] != 1 || loads[ins[2].dir] != 1 || len(loads) != 2 {
		t.Errorf("package loads by directory: %v, want one each", loads)
	}
}
