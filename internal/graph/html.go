package graph

import (
	"bytes"
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
	var b bytes.Buffer
	err = htmlPage.Execute(&b, map[string]any{
		"Title": d.name,
		// The SVG is ours, its text escaped by renderSVG; the script and
		// style are the package's own files.
		"SVG":    template.HTML(renderSVG(d, nil)),
		"Script": template.JS(DiagramJS),
		"Style":  template.CSS(pageCSS),
	})
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

const pageCSS = `
body { margin: 0; font-family: system-ui, sans-serif; color: #222; display: flex; min-height: 100vh; }
main { flex: 1; overflow: auto; padding: 16px; }
aside { width: 320px; border-left: 1px solid #ddd; padding: 16px; background: #fafafa; font-size: 14px; }
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
<script>
(function () {
  var svg = document.querySelector("#diagram svg"), panel = document.getElementById("details");
  function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }
  flowgenDiagram.attach(svg, function (n) {
    panel.textContent = "";
    if (!n) { panel.appendChild(el("h2", "Details")); return; }
    panel.appendChild(el("h2", n.title || n.id));
    if (n.doc) panel.appendChild(el("p", n.doc));
    if (n.lines.length) panel.appendChild(el("pre", n.lines.join("\n")));
    [["Leads to", n.out, "to"], ["Comes from", n.in, "from"]].forEach(function (s) {
      if (!s[1].length) return;
      panel.appendChild(el("h3", s[0]));
      var ul = el("ul");
      s[1].forEach(function (e) {
        var t = svg.querySelector('[data-node="' + CSS.escape(e[s[2]]) + '"] .fg-title');
        ul.appendChild(el("li", (t ? t.textContent : (e[s[2]] || "start")) + (e.label ? "  (" + e.label + ")" : "")));
      });
      panel.appendChild(ul);
    });
  });
})();
</script>
</body>
</html>
`))
