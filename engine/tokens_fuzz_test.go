package engine

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseTokens: parseTokens reads the token file as TokenAuth's comment
// states it, "ROLE TOKEN" a line, fields separated by spaces or tabs, a
// line that may end in CRLF, blank lines and # comments skipped: on any
// input it refuses with an error that names a line of the file and quotes
// no token (no field of MinTokenLength bytes or more), or takes every
// token of the file, each of which then authorizes a request that presents
// it with its line's role, and nothing else.
//
//	go test ./engine -run '^$' -fuzz FuzzParseTokens -fuzztime 5m
func FuzzParseTokens(f *testing.F) {
	for _, s := range []string{
		"# tokens\r\n\r\n  admin\t" + adminToken + "  \r\n   # client below\nclient " + clientToken + "\n",
		"provider 0123456789abcdef0123\n",
		"admin s3cret-s3cret-s3cret extra\n", "\nadmin\n", "root s3cret-s3cret-s3cret\n",
		"s3cret-s3cret-s3cret admin\n", "admin short\n", "admin s3cret-s3cret-s3cret\u00e9\n",
		"admin s3cret-s3cret-s3cret\nclient s3cret-s3cret-s3cret\n", "# nothing\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := strings.Split(string(src), "\n")
		tokens, err := parseTokens("tokens", src)
		if err != nil {
			msg := err.Error()
			for _, w := range strings.Fields(string(src)) {
				if len(w) >= MinTokenLength && strings.Contains(msg, w) {
					t.Fatalf("%q: the error quotes %q: %v", src, w, err)
				}
			}
			if rest, ok := strings.CutPrefix(msg, "tokens:"); !ok {
				t.Fatalf("%q: the error does not name the file: %v", src, err)
			} else if n, _, ok := strings.Cut(rest, ":"); ok {
				if line, err := strconv.Atoi(n); err == nil && (line < 1 || line > len(lines)) {
					t.Fatalf("%q: the error names line %d of %d: %v", src, line, len(lines), msg)
				}
			}
			return
		}
		a := &TokenAuth{}
		a.tokens.Store(&tokens)
		n := 0
		for i, line := range lines {
			line = strings.TrimSuffix(line, "\r")
			f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
			if len(f) == 0 || strings.HasPrefix(f[0], "#") {
				continue
			}
			if len(f) != 2 {
				t.Fatalf("%q: line %d has %d fields, and the file is taken", src, i+1, len(f))
			}
			n++
			r := &http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Header: http.Header{"Authorization": {"Bearer " + f[1]}}}
			who, err := a.AuthorizeIdentity(r, RolePublic)
			if err != nil || string(who.Role) != f[0] {
				t.Fatalf("%q: the token of line %d: %+v, %v; want the role %s", src, i+1, who, err, f[0])
			}
		}
		if n != len(tokens) {
			t.Fatalf("%q: %d tokens taken, the file has %d", src, len(tokens), n)
		}
	})
}
