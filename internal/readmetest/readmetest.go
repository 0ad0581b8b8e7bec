// Package readmetest carries out the shell blocks of the README (and of
// docs/) in tests, as written: a test reads a block (Block, BlockOf),
// splits its lines as sh does (Words) and runs what it knows, curl lines
// through Curl, so that the README cannot drift from what works. Only
// tests import it.
package readmetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Block returns the lines of the first ```sh block after the paragraph of
// repo's README.md that starts with intro, a line continued with a
// trailing backslash joined to the next.
func Block(t testing.TB, repo, intro string) []string {
	t.Helper()
	return BlockOf(t, filepath.Join(repo, "README.md"), intro)
}

// BlockOf is Block for another Markdown file of the repository, such as
// one of docs/.
func BlockOf(t testing.TB, file, intro string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(file)
	_, rest, ok := strings.Cut(string(b), "\n"+intro)
	if !ok {
		t.Fatalf("%s has no paragraph starting %q", name, intro)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatalf("%s: no sh block after %q", name, intro)
	}
	block = strings.ReplaceAll(block, "\\\n", " ")
	return strings.Split(strings.TrimSpace(block), "\n")
}

// Section returns the text of the section "## name" of doc, the text of
// the Markdown file named file, up to the next section of that level.
func Section(t testing.TB, doc, file, name string) string {
	t.Helper()
	_, section, ok := strings.Cut(doc, "\n## "+name+"\n")
	if !ok {
		t.Fatalf("%s has no section %q", file, "## "+name)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}

// Words splits a command line as sh does for the forms the README
// uses: '...' literal, "..." and bare words with $VAR expanded, a comment
// from an unquoted " #". It returns the words and the comment.
func Words(t testing.TB, line string, vars map[string]string) ([]string, string) {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(s string) string {
		return regexp.MustCompile(`\$[A-Z_]+`).ReplaceAllStringFunc(s, func(v string) string {
			val, ok := vars[v[1:]]
			if !ok {
				t.Fatalf("README line %q: %s is not set by an earlier line", line, v)
			}
			return val
		})
	}
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				t.Fatalf("README line %q: unterminated '", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				t.Fatalf("README line %q: unterminated \"", line)
			}
			cur.WriteString(expand(line[i+1 : i+1+j]))
			i += j + 1
			inWord = true
		case c == '#' && !inWord:
			return words, strings.TrimSpace(line[i+1:])
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t'\"", rune(line[j])) {
				j++
			}
			cur.WriteString(expand(line[i:j]))
			i = j - 1
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, ""
}

// Curl carries out a curl command line of the README (its words) against
// base, which stands for the README's localhost:8080, and returns the
// status and the body; a file named by --json @FILE is read from repo.
func Curl(t testing.TB, repo, base string, words []string) (int, string) {
	t.Helper()
	method, url, body, token := "", "", "", ""
	var headers [][2]string
	ctype := ""
	for i := 1; i < len(words); i++ {
		arg := func() string {
			i++
			if i >= len(words) {
				t.Fatalf("curl %q: %s needs a value", words, words[i-1])
			}
			return words[i]
		}
		switch w := words[i]; w {
		case "--oauth2-bearer":
			token = arg()
		case "-X":
			method = arg()
		case "-H":
			name, value, ok := strings.Cut(arg(), ":")
			if !ok {
				t.Fatalf("curl %q: header %q has no ':'", words, words[i])
			}
			headers = append(headers, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
		case "--json":
			body, ctype = arg(), "application/json"
			if f, ok := strings.CutPrefix(body, "@"); ok {
				b, err := os.ReadFile(filepath.Join(repo, f))
				if err != nil {
					t.Fatalf("curl --json @%s: %v", f, err)
				}
				body = string(b)
			}
			if method == "" {
				method = "POST"
			}
		default:
			if strings.HasPrefix(w, "-") || url != "" {
				t.Fatalf("curl %q: the test does not know %q: teach readmetest.Curl", words, w)
			}
			url = w
		}
	}
	if method == "" {
		method = "GET"
	}
	rest, ok := strings.CutPrefix(url, "localhost:8080")
	if !ok {
		t.Fatalf("curl %q: the URL is not on localhost:8080", words)
	}
	req, err := http.NewRequest(method, base+rest, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

// Expectations are the `"key": value` fragments of a README comment, each
// of which the compacted answer (Compact) must contain; a value written
// "..." stands for any, so only `"key":` is expected.
func Expectations(comment string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"[^"]+":\s*("[^"]*"|true|false|[0-9.]+)`).FindAllString(comment, -1) {
		m = regexp.MustCompile(`:\s*`).ReplaceAllString(m, ":")
		out = append(out, strings.TrimSuffix(m, `"..."`))
	}
	return out
}

// Compact is s compacted if it is JSON, else s.
func Compact(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}
