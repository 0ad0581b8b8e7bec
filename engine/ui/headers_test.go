package ui_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine/ui"
)

// Every answer of the web view, the page, its files, the redirect and a
// 404, carries the security headers, and the policy lets only the
// page's own files run: no inline script, no eval, no other origin.
func TestSecurityHeaders(t *testing.T) {
	srv := httptest.NewServer(ui.Handler())
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/ui/", 200}, {"/ui/app.js", 200}, {"/ui/diagram.js", 200}, {"/ui/app.css", 200}, {"/ui/icon.svg", 200},
		{"/ui", http.StatusMovedPermanently}, {"/ui/nothing.js", 404}, {"/ui/static/app.js", 404},
	} {
		res, err := client.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.path, res.StatusCode, c.status)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", c.path, k, got, want)
			}
		}
		csp := directives(res.Header.Get("Content-Security-Policy"))
		for name, want := range map[string][]string{
			"default-src":     {"'none'"},
			"script-src":      {"'self'"},
			"connect-src":     {"'self'"},
			"object-src":      {"'none'"},
			"base-uri":        {"'none'"},
			"form-action":     {"'none'"},
			"frame-ancestors": {"'none'"},
		} {
			if !slices.Equal(csp[name], want) {
				t.Errorf("%s: CSP %s %q, want %q", c.path, name, csp[name], want)
			}
		}
		// Styles: the page's own, and the diagram's one by its hash.
		for _, src := range csp["style-src"] {
			if src != "'self'" && !strings.HasPrefix(src, "'sha256-") {
				t.Errorf("%s: CSP style-src allows %s", c.path, src)
			}
		}
	}
}

// directives splits a Content-Security-Policy into its directives' sources.
func directives(policy string) map[string][]string {
	m := map[string][]string{}
	for d := range strings.SplitSeq(policy, ";") {
		if f := strings.Fields(d); len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}
