package engine

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The engine's middlewares that a program wraps around routes of its own,
// as flowgen serve wraps its mux, answer their refusals unsniffed, as
// Handler's answers are: each quotes what the request sent (a path of
// "<script>", a Host). Before, serve's answer to //flows<script> (a path
// that is not clean, answered by Canonical outside the Handler) had no
// X-Content-Type-Options, though the docs say every answer of the API has.
func TestMiddlewaresAnswerNoSniff(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, c := range []struct {
		name   string
		h      http.Handler
		method string
		target string
		header map[string]string
		status int
	}{
		{"Canonical", Canonical(ok), "GET", "//flows<script>", nil, http.StatusNotFound},
		{"LoopbackOnly", LoopbackOnly(ok), "GET", "/runs", map[string]string{"Host": "<b>attacker.example"}, http.StatusForbidden},
		{"RefuseCrossSite", RefuseCrossSite(ok), "GET", "/watch", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"RequireJSON", RequireJSON(ok), "POST", "/echo/x", map[string]string{"Content-Type": "text/html"}, http.StatusUnsupportedMediaType},
	} {
		req := httptest.NewRequest(c.method, "http://localhost"+c.target, strings.NewReader("<html>"))
		for k, v := range c.header {
			if k == "Host" {
				req.Host = v
			}
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.status)
		}
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", c.name, got)
		}
	}
}
