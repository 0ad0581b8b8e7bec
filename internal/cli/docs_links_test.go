package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The user documentation's links lead somewhere: every Markdown link of
// README.md, CONTRIBUTING.md and docs/*.md to a file of the repository
// names one that exists, every #anchor (in a link, or in a bare reference
// such as docs/engine.md#limits) is a heading of its file, and every
// `path/of/a/file.go` (.md, .json, .flow) in backquotes exists. A file
// moved or split, or a heading renamed, without its readers fails here.
func TestDocLinksResolve(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, filepath.Join(root, "README.md"), filepath.Join(root, "CONTRIBUTING.md"))
	anchors := map[string]map[string]bool{} // file -> its headings' anchors
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		a := headingAnchors(string(b))
		anchors[path] = a
		return a
	}

	mdLink := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	bareRef := regexp.MustCompile(`(?:^|[\s(,])((?:docs/)?[\w-]+\.md)#([\w-]+)`)
	quotedPath := regexp.MustCompile("`((?:[\\w.-]+/)+[\\w.-]+\\.(?:go|md|json|flow))`")
	links := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, doc)
		for i, line := range proseLines(string(b)) {
			at := func(format string, args ...any) {
				t.Helper()
				t.Errorf("%s:%d: "+format, append([]any{name, i + 1}, args...)...)
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				file, anchor, _ := strings.Cut(target, "#")
				path := doc
				if file != "" {
					path = filepath.Join(filepath.Dir(doc), file)
					if _, err := os.Stat(path); err != nil {
						at("link to %s: no such file", target)
						continue
					}
				}
				if anchor != "" && strings.HasSuffix(path, ".md") && !anchorsOf(path)[anchor] {
					at("link to %s: no heading has the anchor #%s", target, anchor)
				}
			}
			for _, m := range bareRef.FindAllStringSubmatch(mdLink.ReplaceAllString(line, "]"), -1) {
				links++
				path := filepath.Join(root, m[1]) // docs/x.md, README.md
				if _, err := os.Stat(path); err != nil {
					path = filepath.Join(filepath.Dir(doc), m[1]) // x.md beside the doc
				}
				if _, err := os.Stat(path); err != nil {
					at("reference to %s#%s: no such file", m[1], m[2])
				} else if !anchorsOf(path)[m[2]] {
					at("reference to %s#%s: no heading has that anchor", m[1], m[2])
				}
			}
			for _, m := range quotedPath.FindAllStringSubmatch(line, -1) {
				links++
				found := false
				for _, dir := range []string{root, filepath.Dir(doc)} {
					if _, err := os.Stat(filepath.Join(dir, m[1])); err == nil {
						found = true
					}
				}
				if !found {
					at("`%s`: no such file in the repository", m[1])
				}
			}
		}
	}
	if links < 100 {
		t.Fatalf("%d links and paths checked: the documents were not read", links)
	}
}

// proseLines returns md's lines with those of fenced code blocks blanked,
// so that line numbers stay those of the file.
func proseLines(md string) []string {
	lines := strings.Split(md, "\n")
	fenced := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			lines[i] = ""
			continue
		}
		if fenced {
			lines[i] = ""
		}
	}
	return lines
}

// headingAnchors returns the anchors GitHub gives md's headings: lower
// case, punctuation but '-' and '_' dropped, spaces made '-', and a
// heading met again suffixed -1, -2...
func headingAnchors(md string) map[string]bool {
	drop := regexp.MustCompile(`[^\p{L}\p{N}_\- ]`)
	seen := map[string]int{}
	out := map[string]bool{}
	for _, line := range proseLines(md) {
		text, ok := strings.CutPrefix(line, "#")
		if !ok {
			continue
		}
		text = strings.TrimLeft(text, "#")
		if !strings.HasPrefix(text, " ") {
			continue
		}
		slug := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(text)), ""), " ", "-")
		if n := seen[slug]; n > 0 {
			out[slug+"-"+strconv.Itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// The Go sources' references to the documentation lead somewhere too:
// every reference to a heading of a page (a page of docs/, README.md or
// CONTRIBUTING.md, then '#' and the heading's anchor) in a .go file of
// the repository, the temporal module included, names a heading of that
// page. Package docs and -h texts send readers there, and a heading
// renamed without them fails here, as a page's links do above.
func TestGoDocLinksResolve(t *testing.T) {
	root := filepath.Join("..", "..")
	ref := regexp.MustCompile(`(?:^|[^\w/.-])((?:docs/)?[\w-]+\.md)#([\w-]+)`)
	anchors := map[string]map[string]bool{}
	refs := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		name, _ := filepath.Rel(root, path)
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range ref.FindAllStringSubmatch(line, -1) {
				page := m[1]
				if !strings.HasPrefix(page, "docs/") && page != "README.md" && page != "CONTRIBUTING.md" {
					page = "docs/" + page
				}
				a, ok := anchors[page]
				if !ok {
					md, err := os.ReadFile(filepath.Join(root, page))
					if err != nil {
						t.Errorf("%s:%d: reference to %s#%s: no such page", name, i+1, m[1], m[2])
						continue
					}
					a = headingAnchors(string(md))
					anchors[page] = a
				}
				refs++
				if !a[m[2]] {
					t.Errorf("%s:%d: reference to %s#%s: no heading of %s has that anchor", name, i+1, m[1], m[2], page)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if refs < 20 {
		t.Fatalf("%d references checked: the sources were not read", refs)
	}
}
