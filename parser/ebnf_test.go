package parser

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLanguageDocGrammar keeps the ```ebnf block of docs/language.md equal
// to the grammar the parser is built from. After changing the grammar, run
// go test ./parser -run LanguageDocGrammar -update, and update the prose.
func TestLanguageDocGrammar(t *testing.T) {
	path := filepath.Join("..", "docs", "language.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	open := []byte("```ebnf\n")
	start := bytes.Index(doc, open)
	if start < 0 {
		t.Fatalf("%s has no ```ebnf block", path)
	}
	start += len(open)
	end := bytes.Index(doc[start:], []byte("```"))
	if end < 0 {
		t.Fatalf("%s: the ```ebnf block is not closed", path)
	}
	end += start
	want := EBNF() + "\n"
	if *update {
		var b bytes.Buffer
		b.Write(doc[:start])
		b.WriteString(want)
		b.Write(doc[end:])
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, string(doc[start:end])); diff != "" {
		t.Errorf("%s: grammar differs from parser.EBNF() (-parser +doc); run go test ./parser -run LanguageDocGrammar -update:\n%s", path, diff)
	}
}

// TestLanguageDocExample: the first example of docs/language.md parses and
// formats to itself.
func TestLanguageDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "language.md"))
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(doc, []byte("```\n")) + 4
	end := start + bytes.Index(doc[start:], []byte("```"))
	src := doc[start:end]
	f, diags := Parse("language.md", src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if diff := cmp.Diff(string(src), string(Format(f))); diff != "" {
		t.Errorf("the example is not in canonical layout (-doc +fmt):\n%s", diff)
	}
}

// TestLanguageDocExamplesParse: every .flow example of docs/language.md
// parses, as a file, as the body of a flow or as the body of a step (the
// fragments), so that an example cannot drift from the grammar. Skipped:
// the grammar, the error output, and an example whose body is elided
// ("{ ... }").
func TestLanguageDocExamplesParse(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "language.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The fenced blocks without a language (the ebnf block has one),
	// indented or not.
	var blocks []string
	var cur []string
	in, lang := false, false
	for _, line := range strings.Split(string(doc), "\n") {
		fence, isFence := strings.CutPrefix(strings.TrimSpace(line), "```")
		switch {
		case isFence && !in:
			in, lang, cur = true, fence != "", nil
		case isFence && in:
			in = false
			if !lang {
				blocks = append(blocks, strings.Join(cur, "\n"))
			}
		case in:
			cur = append(cur, line)
		}
	}
	if len(blocks) < 15 {
		t.Fatalf("found %d examples; is the scan broken?", len(blocks))
	}
	skipped := 0
	for i, b := range blocks {
		if strings.Contains(b, "{ ... }") || regexp.MustCompile(`^\S+\.flow:\d+:\d+: `).MatchString(strings.TrimSpace(b)) {
			skipped++
			continue
		}
		ok := false
		for _, src := range []string{b, "flow F {\n" + b + "\n}\n", "flow F {\n    step A {\n" + b + "\n    }\n}\n"} {
			if _, diags := Parse("language.md", []byte(src)); len(diags) == 0 {
				ok = true
				break
			}
		}
		if !ok {
			_, diags := Parse("language.md", []byte(b))
			t.Errorf("example %d of docs/language.md does not parse (as a file: %v):\n%s", i+1, diags, b)
		}
	}
	if skipped != 2 {
		t.Errorf("skipped %d examples, want the elided one and the error output", skipped)
	}
}
