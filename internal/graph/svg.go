package graph

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/dsl"
)

// SVG renders flow (every flow when flow is "") as a standalone SVG
// image, laid out here (layout.go) rather than by Graphviz, so that it can
// be drawn where Graphviz is not installed: the web view of `flowgen serve`
// serves it, and HTML embeds it.
//
// The SVG carries what a script needs to light a run's path on it: each
// flow is a <g class="fg-flow" data-flow="NAME">; each box a
// <g class="fg-node fg-KIND" data-node="ID"> with data-step="STEP" for a
// step, a parallel block's branch and an undo state,
// data-block="STEP" for a block's fork and join bars and
// data-terminal="STATE" for a terminal state (KIND: step, undo, aborting,
// terminal, choice, branch, fork, join); each edge a <g class="fg-edge"
// data-from="ID" data-to="ID"> (data-from "" for the start arrow, which
// leaves the fg-start box of its own fg-flow; class fg-rollback on the
// compensation chain, fg-abort on the edges out of aborting). DiagramCSS styles them, and
// DiagramJS makes them interactive.
func SVG(f *dsl.File, flow string) ([]byte, error) { return SVGPath(f, flow, nil) }

// Path is a run's way through its flow, lit on the diagram by SVGPath:
// the boxes get the classes fg-visited (Visited steps and branches; undo
// states of Undone steps, a block's of any of its Undone branches; the
// aborting state of a run Aborted),
// fg-current (Current), fg-failed (Failed and FailedBranches, and the
// undo state of FailedUndo), fg-interrupted (Interrupted and Cancelled)
// and fg-done (the Terminal state).
type Path struct {
	Visited []string // steps that ran
	Undone  []string // steps whose rollback ran
	Current []Phase  // what runs or waits now: a step, or its rollback
	Failed  string   // the step that made the run fail
	// FailedBranches are the branches whose failure made Failed, a
	// parallel block, fail; Cancelled the branches of the block cut
	// short because another failed (runtime.Event.Cancelled) or by the
	// run's abort (runtime.Event.InterruptedBranch): like an interrupted
	// step, not failures of their own.
	FailedBranches, Cancelled []string
	// FailedUndo is the step (or branch) whose rollback failed, ending
	// the run compensation_failed.
	FailedUndo string
	// Interrupted is the step (or parallel block) an abort cut short
	// before it completed (runtime.Event.Interrupted): the operator's
	// doing, not the step's failure.
	Interrupted string
	Terminal    string // the run's final state; "" while it is not over
	Aborted     bool   // the run took an abort: it entered the machine state aborting
}

// Phase is a step, or its rollback, in progress.
type Phase struct {
	Step     string
	Rollback bool
}

// SVGPath is SVG with a run's path lit (nil: none).
func SVGPath(f *dsl.File, flow string, p *Path) ([]byte, error) {
	d, err := build(f, flow)
	if err != nil {
		return nil, err
	}
	return renderSVG(d, p)
}

// classes returns the path's classes of node n: " fg-visited" etc.
func (p *Path) classes(n *node) string {
	if p == nil {
		return ""
	}
	var c string
	switch n.kind {
	case nodeStep, nodeBranch:
		if slices.Contains(p.Visited, n.step) {
			c += " fg-visited"
		}
		if slices.Contains(p.Current, Phase{Step: n.step}) {
			c += " fg-current"
		}
		if p.Failed != "" && p.Failed == n.step || n.kind == nodeBranch && slices.Contains(p.FailedBranches, n.step) {
			c += " fg-failed"
		}
		if p.Interrupted != "" && p.Interrupted == n.step || n.kind == nodeBranch && slices.Contains(p.Cancelled, n.step) {
			c += " fg-interrupted"
		}
	case nodeUndo:
		steps := append([]string{n.step}, n.branches...)
		if slices.ContainsFunc(steps, func(s string) bool { return slices.Contains(p.Undone, s) }) {
			c += " fg-visited"
		}
		if slices.ContainsFunc(steps, func(s string) bool { return slices.Contains(p.Current, Phase{Step: s, Rollback: true}) }) {
			c += " fg-current"
		}
		if p.FailedUndo != "" && slices.Contains(steps, p.FailedUndo) {
			c += " fg-failed"
		}
	case nodeAborting:
		if p.Aborted {
			c += " fg-visited"
		}
	case nodeTerminal:
		if p.Terminal != "" && p.Terminal == n.title {
			c += " fg-done"
		}
	}
	return c
}

// DiagramCSS is the style sheet of the SVG diagrams, with the classes that
// mark a run's path (fg-visited, fg-current, fg-failed, fg-interrupted,
// fg-done) and those of diagram.js (fg-selected, fg-hl).
//
//go:embed assets/diagram.css
var DiagramCSS string

// DiagramJS is the script that makes an SVG diagram interactive (select a
// box, see its details and edges) and lights a run's path on it; see its
// header for its API (window.flowgenDiagram).
//
//go:embed assets/diagram.js
var DiagramJS string

const flowTitleH = 26.0 // room above each flow for its name
const margin = 12.0

func renderSVG(d *diagram, p *Path) ([]byte, error) {
	var body bytes.Buffer
	y, width := margin, 0.0
	for _, g := range d.flows {
		L, err := layoutFlow(g)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&body, "<g class=\"fg-flow\" data-flow=\"%s\" transform=\"translate(%s %s)\">\n", attr(g.name), num(margin), num(y))
		fmt.Fprintf(&body, "<text class=\"fg-flow-title\" x=\"0\" y=\"14\">%s</text>\n", text(g.name))
		fmt.Fprintf(&body, "<g transform=\"translate(0 %s)\">\n", num(flowTitleH))
		for _, rt := range L.routes {
			writeRoute(&body, rt)
		}
		for _, v := range L.verts {
			if v.dummy {
				continue
			}
			writeVertex(&body, v, p)
		}
		body.WriteString("</g>\n</g>\n")
		y += flowTitleH + L.h + 2*margin
		width = max(width, L.w)
	}
	w, h := width+2*margin, y
	var b bytes.Buffer
	fmt.Fprintf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"fg-diagram\" viewBox=\"0 0 %s %s\" width=\"%s\" height=\"%s\" data-name=\"%s\">\n",
		num(w), num(h), num(w), num(h), attr(d.name))
	b.WriteString("<defs><marker id=\"fg-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"context-stroke\"/></marker></defs>\n")
	b.WriteString("<style>")
	b.WriteString(DiagramCSS)
	b.WriteString("</style>\n")
	b.Write(body.Bytes())
	b.WriteString("</svg>\n")
	return b.Bytes(), nil
}

var kindClass = map[nodeKind]string{nodeStep: "step", nodeUndo: "undo", nodeTerminal: "terminal", nodeBranch: "branch", nodeFork: "fork", nodeJoin: "join", nodeAborting: "aborting"}

func writeVertex(b *bytes.Buffer, v *vertex, p *Path) {
	if v.start {
		fmt.Fprintf(b, "<g class=\"fg-node fg-start\" data-node=\"%s\"><circle cx=\"%s\" cy=\"%s\" r=\"%s\"/></g>\n",
			attr(v.id), num(v.x), num(v.y), num(startR))
		return
	}
	n := v.n
	class := kindClass[n.kind]
	if n.choice != "" {
		class += " fg-choice"
	}
	if n.call != "" {
		class += " fg-call"
	}
	class += p.classes(n)
	fmt.Fprintf(b, "<g class=\"fg-node fg-%s\" data-node=\"%s\"", class, attr(n.id))
	switch n.kind {
	case nodeStep, nodeUndo, nodeBranch:
		fmt.Fprintf(b, " data-step=\"%s\"", attr(n.step))
	case nodeTerminal:
		fmt.Fprintf(b, " data-terminal=\"%s\"", attr(n.title))
	case nodeFork, nodeJoin:
		// The bars have no text: a script names them by their block.
		fmt.Fprintf(b, " data-block=\"%s\"", attr(n.step))
	}
	if n.call != "" {
		fmt.Fprintf(b, " data-call=\"%s\"", attr(n.call))
	}
	b.WriteString(">")
	if n.doc != "" {
		fmt.Fprintf(b, "<title>%s</title>", text(strings.TrimSpace(n.doc)))
	}
	x0, y0 := v.x-v.w/2, v.y-v.h/2
	fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" rx=\"6\"/>", num(x0), num(y0), num(v.w), num(v.h))
	if n.call != "" {
		// A subroutine, as flowcharts draw one: a bar inside each side.
		l, r := x0+callBar, x0+v.w-callBar
		fmt.Fprintf(b, "<path class=\"fg-call-bars\" d=\"M%s,%s V%s M%s,%s V%s\"/>", num(l), num(y0), num(y0+v.h), num(r), num(y0), num(y0+v.h))
	}
	ty := y0 + padY + 11
	fmt.Fprintf(b, "<text class=\"fg-title\" x=\"%s\" y=\"%s\">%s</text>", num(v.x), num(ty), text(n.title))
	for i, l := range n.lines {
		fmt.Fprintf(b, "<text class=\"fg-line\" x=\"%s\" y=\"%s\">%s</text>", num(x0+inset(n)), num(ty+titleH-2+float64(i)*lineH), text(l))
	}
	b.WriteString("</g>\n")
}

func writeRoute(b *bytes.Buffer, rt route) {
	class := "fg-edge"
	if rt.e.rollback {
		class += " fg-rollback"
	}
	if rt.e.abort {
		class += " fg-abort"
	}
	fmt.Fprintf(b, "<g class=\"%s\" data-from=\"%s\" data-to=\"%s\"><path d=\"%s\" marker-end=\"url(#fg-arrow)\"/>",
		class, attr(rt.e.from), attr(rt.e.to), pathData(rt))
	if rt.e.label != "" {
		fmt.Fprintf(b, "<text class=\"fg-label\" x=\"%s\" y=\"%s\">%s</text>", num(rt.labelPos[0]), num(rt.labelPos[1]+3), text(rt.e.label))
	}
	b.WriteString("</g>\n")
}

// pathData draws a route: straight lines for a self loop, an abort edge
// and an edge into a final state on its rail, the cubic curves of curve
// between its points for the others.
func pathData(rt route) string {
	p := rt.pts
	var b strings.Builder
	fmt.Fprintf(&b, "M%s,%s", num(p[0][0]), num(p[0][1]))
	if rt.self || rt.rail || rt.fall {
		for _, q := range p[1:] {
			fmt.Fprintf(&b, " L%s,%s", num(q[0]), num(q[1]))
		}
		return b.String()
	}
	for i := 0; i+1 < len(p); i++ {
		q := curve(p[i], p[i+1])
		fmt.Fprintf(&b, " C%s,%s %s,%s %s,%s", num(q[1][0]), num(q[1][1]), num(q[2][0]), num(q[2][1]), num(q[3][0]), num(q[3][1]))
	}
	return b.String()
}

// num prints a coordinate with at most one decimal.
func num(f float64) string {
	return strconv.FormatFloat(float64(int64(f*10+0.5*sign(f)))/10, 'f', -1, 64)
}

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

// text escapes s as XML character data; characters XML cannot hold become
// U+FFFD (encoding/xml's EscapeText).
func text(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// attr escapes s for a double-quoted XML attribute (EscapeText escapes the
// quotes and the white space that attribute normalisation would fold).
func attr(s string) string { return text(s) }
