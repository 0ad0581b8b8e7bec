package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
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

// The inputs of one directory share its parsed .flow files too: parsed
// once per input, `flowgen check *.flow` parsed n² files. Each input still
// sees only the others.
func TestInputsOfOneDirectoryParseTheFilesOnce(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"a", "b", "c"} {
		p := filepath.Join(dir, name+".flow")
		if err := os.WriteFile(p, []byte("flow "+strings.ToUpper(name)+" {\n    step S { irreversible }\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	e := &env{stdout: io.Discard, stderr: io.Discard}
	ins, _ := e.readInputs(paths[:2]) // a and b; c is a sibling only
	a, b := ins[0].siblingFiles(), ins[1].siblingFiles()
	if len(a) != 2 || len(b) != 2 || a[0].flows[0].Name != "B" || b[0].flows[0].Name != "A" {
		t.Fatalf("siblings of a: %v; of b: %v", a, b)
	}
	if a[1].flows[0] != b[1].flows[0] {
		t.Error("a and b parsed c.flow each")
	}
}

// A call of a flow that a .flow file beside the input declares, when that
// file does not parse, is not a call of a flow the package lacks: the
// diagnostic said "neither this file nor its Go package declares" while
// billing.flow, one typo away from parsing, declared it. It names the file
// that does not parse instead, and says to fix it first.
func TestCallIntoASiblingThatDoesNotParse(t *testing.T) {
	dir := t.TempDir()
	order := filepath.Join(dir, "order.flow")
	files := map[string]string{
		order:                              "flow Order {\n    step Bill {\n        call Billing\n        irreversible\n    }\n}\n",
		filepath.Join(dir, "billing.flow"): "flow Billing {\n    step Charge { irreversibel }\n}\n",
		filepath.Join(dir, "fine.flow"):    "flow Fine {\n    step F { irreversible }\n}\n",
	}
	for p, src := range files {
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, _, stderr := runCLI("check", "-nopkg", order)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	billing := filepath.ToSlash(filepath.Join(dir, "billing.flow"))
	for _, want := range []string{
		`order.flow:3:14: error: step "Bill" calls flow "Billing", which neither this file nor its Go package declares, but ` + billing + ` beside it has syntax errors`,
		`hint: fix ` + billing + ` first (flowgen check ` + billing + ` shows them): it may declare flow Billing`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "fine.flow") {
		t.Errorf("stderr names fine.flow, which parses:\n%s", stderr)
	}

	// With every file of the package parsing, the diagnostic is the usual one.
	if err := os.WriteFile(filepath.Join(dir, "billing.flow"), []byte("flow Billing2 {\n    step Charge { irreversible }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, stderr = runCLI("check", "-nopkg", order)
	if !strings.Contains(stderr, `which neither this file nor its Go package declares`+"\n") || strings.Contains(stderr, "syntax errors") {
		t.Errorf("stderr:\n%s", stderr)
	}
}
