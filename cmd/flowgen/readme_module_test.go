package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/flowgen/flowgen/internal/readmetest"
)

// TestReadmeModuleSteps checks that module_acceptance.txtar, which builds
// and runs a module the way the README's "Using it in your module" says,
// does what the README says as written: each command of its sh blocks is
// a line of the script, signup/signup.flow is the flow at the top of the
// README, and every line of the Go blocks of steps 2 and 3 is a line of
// signup/state.go and signup/main.go, in order (white space aside; a
// `{ ... }` body stands for any body).
func TestReadmeModuleSteps(t *testing.T) {
	readme, section := readmeModuleSection(t)
	ar := readScript(t, "module_acceptance.txtar")
	files := map[string]string{}
	for _, f := range ar.Files {
		files[f.Name] = string(f.Data)
	}

	top := fencedBlocks(readme)
	if len(top) == 0 || top[0].lang != "" {
		t.Fatal("README.md does not start with the signup flow's block")
	}
	if got := files["signup/signup.flow"]; got != top[0].text {
		t.Errorf("signup/signup.flow is not the README's flow:\n%s\nREADME:\n%s", got, top[0].text)
	}

	blocks := fencedBlocks(section)
	var goBlocks []block
	for _, b := range blocks {
		switch b.lang {
		case "sh":
			for _, line := range strings.Split(strings.TrimSpace(b.text), "\n") {
				if !containsInOrder(string(ar.Comment), []string{"exec " + line}) {
					t.Errorf("README command %q is not run by module_acceptance.txtar", line)
				}
			}
		case "go":
			goBlocks = append(goBlocks, b)
		}
	}
	if len(goBlocks) != 2 {
		t.Fatalf("%d Go blocks in the README's steps, want 2 (steps 2 and 3)", len(goBlocks))
	}
	for i, name := range []string{"signup/state.go", "signup/main.go"} {
		if !containsInOrder(files[name], strings.Split(goBlocks[i].text, "\n")) {
			t.Errorf("%s does not have the lines of the README's Go block of step %d, in order:\n%s", name, i+2, goBlocks[i].text)
		}
	}
}

// block is a fenced code block of a Markdown text: its language and its
// lines, their common indentation removed.
type block struct {
	lang, text string
}

func fencedBlocks(md string) []block {
	var out []block
	var cur *block
	indent := ""
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{lang: strings.TrimPrefix(trimmed, "```")}
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
		case cur != nil && trimmed == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += strings.TrimPrefix(line, indent) + "\n"
		}
	}
	return out
}

// containsInOrder reports whether text has lines equal to want's, in that
// order, comparing lines with their runs of white space made one space; a
// wanted line with a `{ ... }` body matches a line that starts as it does.
// Blank wanted lines are skipped.
func containsInOrder(text string, want []string) bool {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	have := strings.Split(text, "\n")
	i := 0
	for _, w := range want {
		w = norm(w)
		if w == "" {
			continue
		}
		prefix, placeholder := strings.CutSuffix(w, " { ... }")
		for ; i < len(have); i++ {
			h := norm(have[i])
			if h == w || placeholder && strings.HasPrefix(h, prefix+" {") {
				break
			}
		}
		if i == len(have) {
			return false
		}
		i++
	}
	return true
}

// TestReadmeModuleCheckout checks that module_checkout.txtar runs the
// commands the README's step 1 gives for a checkout that go get cannot
// take (the inline `go mod edit -require ... && go mod tidy`), as written.
func TestReadmeModuleCheckout(t *testing.T) {
	_, section := readmeModuleSection(t)
	ar := readScript(t, "module_checkout.txtar")
	const start = "`go mod edit -require "
	_, rest, ok := strings.Cut(section, start)
	if !ok {
		t.Fatalf("the README's step 1 has no %s...` command", start)
	}
	code, _, _ := strings.Cut(start[1:]+rest, "`")
	var want []string
	for _, c := range strings.Split(code, " && ") {
		want = append(want, "exec "+c)
	}
	if !containsInOrder(string(ar.Comment), want) {
		t.Errorf("README command %q is not run by module_checkout.txtar", code)
	}
}

// readmeModuleSection returns the README and its section "Using it in your
// module".
func readmeModuleSection(t *testing.T) (readme, section string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b), readmetest.Section(t, string(b), "README.md", "Using it in your module")
}

func readScript(t *testing.T, name string) *txtar.Archive {
	t.Helper()
	ar, err := txtar.ParseFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return ar
}
