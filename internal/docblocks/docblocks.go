// Package docblocks compiles the Go blocks of the manual (docs/*.md) in
// tests, so that a page cannot drift from the API it shows: each block is
// built in a module of its own that requires this checkout, as a user's
// module would. Only tests import it.
package docblocks

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Blocks returns the ```go blocks of md, in order.
func Blocks(md string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?ms)^```go\n(.*?)^```$").FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// ForPage is how a package's test of a page begins: it skips under -short
// (it builds a module), and returns the module and the text of page (a
// path from repo, the checkout's root, such as "docs/store.md").
func ForPage(t testing.TB, repo, page string) (*Module, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a module")
	}
	doc, err := os.ReadFile(filepath.Join(repo, page))
	if err != nil {
		t.Fatal(err)
	}
	return NewModule(t, repo), string(doc)
}

// Module is a module in a temporary directory that requires this checkout
// (through a replace line) and nothing else. It builds offline: the
// checkout's go.sum is copied and GOPROXY is off, so every package it
// imports must be one the checkout's module graph has.
type Module struct {
	t   testing.TB
	Dir string
	env []string
}

// NewModule makes the module; repo is the checkout's root.
func NewModule(t testing.TB, repo string) *Module {
	t.Helper()
	repo, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	m := &Module{t: t, Dir: t.TempDir(), env: append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local", "GOWORK=off")}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	m.Write("go.sum", string(sum))
	m.Write("go.mod", "module example.com/docs\n\ngo 1.26\n\nrequire github.com/flowgen/flowgen v0.0.0\n\nreplace github.com/flowgen/flowgen => "+repo+"\n")
	return m
}

// Require makes the module require another module of this checkout, path
// at dir (a directory, such as the Temporal module's), through a replace
// line as for the checkout, and adds that module's go.sum, so that a page
// of that module (docs/temporal.md) compiles as a user's module would.
func (m *Module) Require(path, dir string) {
	m.t.Helper()
	dir, err := filepath.Abs(dir)
	if err != nil {
		m.t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		m.t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(m.Dir, "go.sum"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		m.t.Fatal(err)
	}
	_, err = f.Write(sum)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		m.t.Fatal(err)
	}
	m.Go("mod", "edit", "-require="+path+"@v0.0.0", "-replace="+path+"="+dir)
}

// Write writes src to name, a path inside the module.
func (m *Module) Write(name, src string) {
	m.t.Helper()
	path := filepath.Join(m.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

// Go runs the go command in the module and returns its standard output;
// a failure fails the test with what it printed.
func (m *Module) Go(args ...string) []byte {
	m.t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = m.Dir, m.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		m.t.Fatalf("go %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// Fragments says how to compile the fragments of a page: blocks that are
// statements, not a file, with free names (ctx, st, a step's state type)
// the page's prose gives a meaning.
type Fragments struct {
	// Page names the page in messages ("docs/store.md").
	Page string
	// Wrap maps the start of a block's first line to the function the
	// block is compiled in: a format whose %d is a number and %s the block.
	// Its parameters give the block's free names their types.
	Wrap map[string]string
	// Prelude starts the file: its package clause, its imports and the
	// declarations the functions use.
	Prelude string
	// Skip lists the starts of the first lines of blocks not compiled
	// here (generated code, a third-party client: other tests build them).
	Skip []string
	// Other, if set, is offered every block that is neither skipped nor
	// one Wrap knows, with its first line; it says whether it took it.
	Other func(first, block string) bool
}

// Fragments writes the fragments of the page md as the file name of the
// module, and returns how many it wrote. A line that is only "..." (code
// the page leaves out) is dropped. A block that neither Wrap, Skip
// nor Other knows fails the test, so that a new block is taught, not
// silently left out.
func (m *Module) Fragments(name, md string, f Fragments) int {
	m.t.Helper()
	var frags []string
	for _, b := range Blocks(md) {
		b = dropElisions(b)
		first, _, _ := strings.Cut(b, "\n")
		if hasPrefix(first, f.Skip) != "" {
			continue
		}
		if k := hasPrefix(first, keys(f.Wrap)); k != "" {
			frags = append(frags, fmt.Sprintf(f.Wrap[k], len(frags), b))
			continue
		}
		if f.Other != nil && f.Other(first, b) {
			continue
		}
		m.t.Errorf("%s: a Go block starting %q is one the test does not know: teach it (Fragments.Wrap) or skip it (Fragments.Skip)", f.Page, first)
	}
	if len(frags) > 0 {
		m.Write(name, f.Prelude+strings.Join(frags, "\n"))
	}
	return len(frags)
}

// dropElisions removes the lines of a block that are only "...": a page
// writes one for code it leaves out (between a server's start and its
// close), which is not Go.
func dropElisions(block string) string {
	lines := strings.SplitAfter(block, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) != "..." {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// hasPrefix returns the longest of prefixes that s starts with, or "".
func hasPrefix(s string, prefixes []string) string {
	best := ""
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) && len(p) > len(best) {
			best = p
		}
	}
	return best
}
