package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A document that opens with a "## Contents" list lists every section
// (## and ###, nested as written) in the order the document has them, so
// that a section added later is not missing from it, nor a removed one
// left in it. TestDocLinksResolve checks that each entry's anchor exists.
func TestDocContentsListEverySection(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`^( *)- \[(.*)\]\(#[^)]*\)$`)
	checked := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		var listed, headings []string
		in := false
		for _, line := range proseLines(string(b)) {
			switch {
			case line == "## Contents":
				in = true
				continue
			case in && line == "":
				continue
			case in:
				if m := entry.FindStringSubmatch(line); m != nil {
					listed = append(listed, strings.Repeat("#", 2+len(m[1])/2)+" "+m[2])
					continue
				}
				in = false
			}
			if strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### ") {
				headings = append(headings, line)
			}
		}
		if listed == nil {
			continue
		}
		checked++
		if got, want := strings.Join(listed, "\n"), strings.Join(headings, "\n"); got != want {
			t.Errorf("%s: its Contents list\n%s\nis not its sections\n%s", filepath.Base(doc), got, want)
		}
	}
	if checked == 0 {
		t.Fatal("no document has a Contents list: the documents were not read")
	}
}
