package graph

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"

	"github.com/flowgen/flowgen/dsl"
)

// HTML renders flow (every flow when flow is "") as one self-contained web
// page: the SVG diagram with its style and script inline, so that the page
// works offline, from a file, with nothing else. Clicking a box shows its
// action, policies and transitions beside the diagram.
func HTML(f *dsl.File, flow string) ([]byte, error) {
	d, err := build(f, flow)
	if err != nil {
		return nil, err
	}
	svg, err := renderSVG(d, nil)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = htmlPage.Execute(&b, map[string]any{
		"Title": d.name,
		// The SVG is ours, its text escaped by renderSVG; the script and
		// style are the package's own files.
		"SVG":        template.HTML(svg),
		"Script":     template.JS(DiagramJS),
		"PageScript": template.JS(pageJS),
		"Style":      template.CSS(pageCSS),
		"Policy":     pagePolicy,
	})
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// pagePolicy is the page's Content-Security-Policy: its own inline
// scripts and styles, by their hashes, and nothing else (no request, no
// plugin, no <base>, no form). Its text is escaped into the page, so a
// script that data smuggled into it would not run even if escaping failed.
var pagePolicy = "default-src 'none'; script-src " + CSPHash(DiagramJS) + " " + CSPHash(pageJS) +
	"; style-src " + CSPHash(pageCSS) + " " + CSPHash(DiagramCSS) + "; object-src 'none'; base-uri 'none'; form-action 'none'"

// CSPHash is the Content-Security-Policy source expression that allows
// the inline script or style s: the one rule for the page here and the
// web view of flowgen serve (engine/ui).
func CSPHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// pageJS shows the details of the box clicked in the panel beside the
// diagram.
const pageJS = `(function () {
  var svg = document.querySelector("#diagram svg"), panel = document.getElementById("details");
  function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }
  // nameOf names the box of id (flowgenDiagram.name).
  function nameOf(id) {
    var g = id ? svg.querySelector('[data-node="' + CSS.escape(id) + '"]') : null;
    return g ? flowgenDiagram.name(g) : id || "start";
  }
  flowgenDiagram.attach(svg, function (n) {
    panel.textContent = "";
    if (!n) { panel.appendChild(el("h2", "Details")); return; }
    panel.appendChild(el("h2", n.name));
    if (n.doc) panel.appendChild(el("p", n.doc));
    if (n.lines.length) panel.appendChild(el("pre", n.lines.join("\n")));
    if (n.call) {
      // A call's child flow: a link to its diagram when the page has it.
      var p = el("p", "Runs flow "), target = svg.querySelector('.fg-flow[data-flow="' + CSS.escape(n.call) + '"]');
      if (target) {
        var a = el("a", n.call);
        a.href = "#";
        a.className = "call-link";
        a.addEventListener("click", function (ev) { ev.preventDefault(); target.scrollIntoView({ block: "start" }); });
        p.appendChild(a);
      } else p.appendChild(el("b", n.call));
      p.appendChild(document.createTextNode(" as a child run" + (target ? "." : " (not in this diagram).")));
      panel.appendChild(p);
    }
    [["Leads to", n.out, "to"], ["Comes from", n.in, "from"]].forEach(function (s) {
      if (!s[1].length) return;
      panel.appendChild(el("h3", s[0]));
      var ul = el("ul");
      s[1].forEach(function (e) {
        ul.appendChild(el("li", nameOf(e[s[2]]) + (e.label ? "  (" + e.label + ")" : "")));
      });
      panel.appendChild(ul);
    });
  });
})();
`

const pageCSS = `
body { margin: 0; font-family: system-ui, sans-serif; color: #222; display: flex; height: 100vh; }
/* The diagram scrolls in a box as tall as the window, so that its scroll
   bars are in view: a flow wider than the window, scrolled by the page,
   had its sideways bar at the foot of the page, and looked cut off. */
main { flex: 1; min-width: 0; overflow: auto; padding: 16px; }
aside { flex: none; width: 320px; border-left: 1px solid #ddd; padding: 16px; background: #fafafa; font-size: 14px;
  overflow: auto; } /* beside the box clicked, however far down */
/* A phone's window: the details below the diagram, which keeps the width. */
@media (max-width: 700px) {
  body { flex-direction: column; }
  aside { width: auto; flex: 0 0 35vh; border-left: 0; border-top: 1px solid #ddd; }
}
aside h2 { font-size: 16px; margin: 0 0 8px; }
aside pre { white-space: pre-wrap; font-size: 12px; }
aside ul { padding-left: 18px; }
h1 { font-size: 18px; margin: 0 0 12px; }
`

var htmlPage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{{.Policy}}">
<meta name="generator" content="flowgen graph -format html">
<title>{{.Title}} · flowgen</title>
<style>{{.Style}}</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<div id="diagram">{{.SVG}}</div>
</main>
<aside id="details"><h2>Details</h2><p>Click a step, an undo or a final state to see it here; its transitions light up.</p></aside>
<script>{{.Script}}</script>
<script>{{.PageScript}}</script>
</body>
</html>
`))
