package parser

import (
	"bytes"
	"os"
	"path/filepath"
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
