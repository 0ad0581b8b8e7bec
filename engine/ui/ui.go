// Package ui is the web view of the engine (served at /ui by
// engine.Handler, and so by `flowgen serve`): the flows' diagrams, the
// runs, each run's path, timeline, state and waits, live, and the dead
// letters for a caller the API lets read them. It is plain
// HTML, CSS and JavaScript embedded in the binary: no CDN, no build step,
// no network at run time. Everything it shows it reads from the engine's
// HTTP API with the caller's bearer token, so it has the API's access
// control; see docs/observability.md, "The web view".
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/flowgen/flowgen/internal/graph"
)

//go:embed static
var static embed.FS

// Prefix is where Handler serves the web view.
const Prefix = "/ui/"

// files are the web view's files by name: the static directory, and the
// diagram's style and script, which it shares with `flowgen graph -format
// html` (package graph).
var files = func() map[string][]byte {
	m := map[string][]byte{
		"diagram.css": []byte(graph.DiagramCSS),
		"diagram.js":  []byte(graph.DiagramJS),
	}
	entries, err := fs.ReadDir(static, "static")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	for _, e := range entries {
		b, err := static.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		m[e.Name()] = b
	}
	return m
}()

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// policy is the Content-Security-Policy of every answer of Handler: the
// page's own scripts and styles only, requests to its own origin only,
// nothing inline, no plugins, no <base>, no form submission, no framing
// (the Abort button cannot be clickjacked). A script that data smuggled
// into the page would not run. One inline style is allowed, by its hash:
// the <style> of each SVG diagram, which holds graph.DiagramCSS
// (graph.SVG). The page parses a diagram into a document of its own
// (DOMParser), which has the page's policy, and moves the SVG into the
// page without it: the page links diagram.css.
var policy = "default-src 'none'; script-src 'self'; style-src 'self' " + graph.CSPHash(graph.DiagramCSS) +
	"; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// built is the modification time the files are served with: the start of
// the process, so that a browser revalidates them after an upgrade.
var built = time.Now()

// Handler serves the web view's files: GET /ui/ the page, GET /ui/NAME its
// scripts and styles, and GET /ui redirects to /ui/. The page is one
// document whose views are chosen by the URL's fragment (#/runs,
// #/run/ID, #/flows, #/deadletters). The files hold no data and do nothing by
// themselves: what the page shows it reads from the API, with the token
// the user gives it.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// On every answer, the redirect and the 404 included.
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Frame-Options", "DENY") // frame-ancestors, for browsers without CSP 2
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" {
			name = "index.html"
		}
		b, ok := files[name]
		if !ok || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", types[path.Ext(name)])
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, built, strings.NewReader(string(b)))
	})
}
