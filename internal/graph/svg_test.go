package graph

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
)

// svgBox is a box of a rendered diagram, read back from the SVG.
type svgBox struct {
	node, step, terminal string
	x, y, w, h           float64
}

// parseSVG checks that b is well-formed XML and returns its boxes and
// edges (from, to).
func parseSVG(t *testing.T, b []byte) (boxes []svgBox, edges [][2]string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var cur *svgBox
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		a := map[string]string{}
		for _, at := range se.Attr {
			a[at.Name.Local] = at.Value
		}
		switch {
		case se.Name.Local == "g" && strings.Contains(a["class"], "fg-node"):
			boxes = append(boxes, svgBox{node: a["data-node"], step: a["data-step"], terminal: a["data-terminal"]})
			cur = &boxes[len(boxes)-1]
		case se.Name.Local == "g" && strings.Contains(a["class"], "fg-edge"):
			edges = append(edges, [2]string{a["data-from"], a["data-to"]})
		case se.Name.Local == "rect" && cur != nil:
			for k, p := range map[string]*float64{"x": &cur.x, "y": &cur.y, "width": &cur.w, "height": &cur.h} {
				if _, err := fmtSscan(a[k], p); err != nil {
					t.Fatalf("rect %s=%q: %v", k, a[k], err)
				}
			}
			cur = nil
		}
	}
	return boxes, edges
}

// TestSVGLayout checks every golden case's SVG (checkSVG).
func TestSVGLayout(t *testing.T) {
	for _, dir := range goldenCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			checkSVG(t, loadCase(t, dir))
		})
	}
}

// checkSVG checks f's SVG: well-formed, one box per node of the model with
// its data attributes, every edge between known boxes, and no two boxes of
// a flow overlapping.
func checkSVG(t *testing.T, f *dsl.File) {
	t.Helper()
	d, err := build(f, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := SVG(f, "")
	if err != nil {
		t.Fatal(err)
	}
	boxes, edges := parseSVG(t, out)
	known := map[string]bool{}
	want := 0
	for _, g := range d.flows {
		want += len(g.nodes) + 1 // and the start point
		known[g.startID] = true
		for _, n := range g.nodes {
			known[n.id] = true
		}
	}
	if len(boxes) != want {
		t.Errorf("%d boxes, want %d", len(boxes), want)
	}
	for _, b := range boxes {
		if !known[b.node] {
			t.Errorf("box %q is no node of the model", b.node)
		}
	}
	for _, g := range d.flows {
		for _, n := range g.nodes {
			var got *svgBox
			for i := range boxes {
				if boxes[i].node == n.id {
					got = &boxes[i]
				}
			}
			switch {
			case got == nil:
				t.Errorf("node %q not drawn", n.id)
			case (n.kind == nodeStep || n.kind == nodeBranch) && got.step != n.title, n.kind == nodeTerminal && got.terminal != n.title:
				t.Errorf("node %q: data-step %q data-terminal %q, title %q", n.id, got.step, got.terminal, n.title)
			}
		}
	}
	nEdges := 0
	for _, g := range d.flows {
		nEdges += len(g.edges)
	}
	if len(edges) != nEdges {
		t.Errorf("%d edges drawn, the model has %d", len(edges), nEdges)
	}
	for _, e := range edges {
		if e[0] != "" && !known[e[0]] || !known[e[1]] {
			t.Errorf("edge %v between unknown boxes", e)
		}
	}
	// Boxes (flows are stacked, so all of a diagram's boxes are
	// compared in the flow's own coordinates: same-flow only).
	for _, g := range d.flows {
		var fb []svgBox
		ids := map[string]bool{}
		for _, n := range g.nodes {
			ids[n.id] = true
		}
		for _, b := range boxes {
			if ids[b.node] {
				fb = append(fb, b)
			}
		}
		for i := range fb {
			for j := i + 1; j < len(fb); j++ {
				a, b := fb[i], fb[j]
				if a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h {
					t.Errorf("flow %s: boxes %s and %s overlap", g.name, a.node, b.node)
				}
			}
		}
	}
}

// The HTML page is self-contained: nothing is loaded from elsewhere.
func TestHTMLSelfContained(t *testing.T) {
	f := loadCase(t, filepath.Join(goldenDir, "signup"))
	out, err := HTML(f, "")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, re := range []string{`(?i)<script[^>]+src=`, `(?i)<link[^>]+href=`, `(?i)url\(\s*['"]?(https?:)?//`, `(?i)@import`, `(?i)(src|href)="(https?:)?//`} {
		if m := regexp.MustCompile(re).FindString(s); m != "" {
			t.Errorf("the page loads something from elsewhere: %q", m)
		}
	}
	for _, want := range []string{"<svg", "flowgenDiagram", `data-step="CreateCustomer"`, "<title>Signup · flowgen</title>"} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// Names that are not plain words are escaped, in the text and attributes.
func TestSVGEscapes(t *testing.T) {
	f := loadCase(t, filepath.Join(goldenDir, "escaping"))
	out, err := SVG(f, "")
	if err != nil {
		t.Fatal(err)
	}
	parseSVG(t, out)
	if bytes.Contains(out, []byte("<script")) {
		t.Error("a name reached the SVG as markup")
	}
}

func fmtSscan(s string, p *float64) (int, error) { return fmt.Sscan(s, p) }

// SVGPath lights a run's path: the classes land on the boxes named.
func TestSVGPath(t *testing.T) {
	f := loadCase(t, filepath.Join(goldenDir, "signup"))
	out, err := SVGPath(f, "", &Path{
		Visited:  []string{"CreateCustomer", "CreateSubscription"},
		Undone:   []string{"CreateSubscription"},
		Current:  []Phase{{Step: "CreateCustomer", Rollback: true}},
		Failed:   "CreateSubscription",
		Terminal: "",
	})
	if err != nil {
		t.Fatal(err)
	}
	parseSVG(t, out)
	s := string(out)
	for _, want := range []string{
		`class="fg-node fg-step fg-visited" data-node="Signup_CreateCustomer"`,
		`class="fg-node fg-step fg-visited fg-failed" data-node="Signup_CreateSubscription"`,
		`class="fg-node fg-undo fg-visited" data-node="Signup_undo_CreateSubscription"`,
		`class="fg-node fg-undo fg-current" data-node="Signup_undo_CreateCustomer"`,
		`class="fg-node fg-step" data-node="Signup_AwaitPayment"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %s", want)
		}
	}
	out, _ = SVGPath(f, "", &Path{Visited: []string{"CreateCustomer"}, Terminal: "done"})
	if !strings.Contains(string(out), `class="fg-node fg-terminal fg-done" data-node="Signup_done"`) {
		t.Error("the final state is not lit")
	}
	if !strings.Contains(string(out), `class="fg-node fg-aborting" data-node="Signup_aborting"`) {
		t.Error("the aborting state is lit, or missing, for a run that was not aborted")
	}
	if strings.Count(string(out), "fg-done\"") != 1 {
		t.Error("more than one final state lit")
	}
	// Aborted while Activate ran, which returned ok anyway: its rollback,
	// which only an abort runs, is lit with the others and the aborting
	// state.
	out, _ = SVGPath(f, "", &Path{Visited: []string{"CreateCustomer", "CreateSubscription", "AwaitPayment", "Activate"},
		Undone: []string{"Activate", "CreateSubscription", "CreateCustomer"}, Aborted: true, Terminal: "aborted"})
	for _, want := range []string{
		`class="fg-node fg-step fg-visited" data-node="Signup_Activate"`,
		`class="fg-node fg-undo fg-visited" data-node="Signup_undo_Activate"`,
		`class="fg-node fg-aborting fg-visited" data-node="Signup_aborting"`,
		`class="fg-node fg-terminal fg-done" data-node="Signup_aborted"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("aborted: lacks %s", want)
		}
	}
	// Aborted while CreateSubscription ran, cut short: it is lit
	// interrupted, not failed; what completed before it is undone.
	out, _ = SVGPath(f, "", &Path{Visited: []string{"CreateCustomer", "CreateSubscription"},
		Undone: []string{"CreateCustomer"}, Interrupted: "CreateSubscription", Aborted: true, Terminal: "aborted"})
	if want := `class="fg-node fg-step fg-visited fg-interrupted" data-node="Signup_CreateSubscription"`; !strings.Contains(string(out), want) {
		t.Errorf("interrupted: lacks %s", want)
	}
	if n := len(regexp.MustCompile(`class="[^"]*fg-interrupted`).FindAll(out, -1)); n != 1 {
		t.Errorf("interrupted: %d boxes lit interrupted, want 1", n)
	}
	if regexp.MustCompile(`class="[^"]*fg-failed`).Match(out) {
		t.Error("interrupted: a box is lit failed")
	}
	out, _ = SVGPath(f, "", &Path{Undone: []string{"CreateCustomer"}, FailedUndo: "CreateCustomer", Terminal: "compensation_failed"})
	if !strings.Contains(string(out), `class="fg-node fg-undo fg-visited fg-failed" data-node="Signup_undo_CreateCustomer"`) {
		t.Error("the rollback that failed is not lit")
	}
}

// A call (and an undo whose rollback calls a flow) is marked in every
// format: a 3D box in DOT, class call in Mermaid, in SVG class fg-call
// with data-call naming the flow and the subroutine's side bars. The
// same nodes in each, and in the HTML page, whose details link to the
// called flow.
func TestCallsMarkedInEveryFormat(t *testing.T) {
	dotCall := regexp.MustCompile(`(?m)^\s*"([^"]+)" \[.*shape=box3d`)
	mmdCall := regexp.MustCompile(`(?m)^\s*class (\S+) call$`)
	svgCall := regexp.MustCompile(`<g class="fg-node [^"]*\bfg-call\b[^"]*" data-node="([^"]+)"[^>]* data-call="([^"]+)">(?:<title>[^<]*</title>)?<rect [^>]*/><path class="fg-call-bars" `)
	svgAny := regexp.MustCompile(`fg-call\b|data-call=`)
	for _, dir := range goldenCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := loadCase(t, dir)
			var want []string // node ids, in the model's order
			calls := map[string]string{}
			d, err := build(f, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range d.flows {
				for _, n := range g.nodes {
					if n.call != "" {
						want = append(want, n.id)
						calls[n.id] = n.call
					}
				}
			}
			dot, err := DOT(f, "")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range dotCall.FindAllStringSubmatch(string(dot), -1) {
				got = append(got, m[1])
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("DOT marks %v as calls, want %v", got, want)
			}
			mmd, err := Mermaid(f, "")
			if err != nil {
				t.Fatal(err)
			}
			got = nil
			for _, m := range mmdCall.FindAllStringSubmatch(string(mmd), -1) {
				got = append(got, strings.Split(m[1], ",")...)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Mermaid marks %v as calls, want %v", got, want)
			}
			for _, format := range []string{"svg", "html"} {
				out, err := Render(f, "", format)
				if err != nil {
					t.Fatal(err)
				}
				got = nil
				for _, m := range svgCall.FindAllStringSubmatch(string(out), -1) {
					got = append(got, m[1])
					if calls[m[1]] != m[2] {
						t.Errorf("%s: %s has data-call %q, want %q", format, m[1], m[2], calls[m[1]])
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s marks %v as calls, want %v", format, got, want)
				}
				// Nothing else is marked (after the style sheet, which
				// names the classes).
				if _, body, ok := strings.Cut(string(out), "</style>"); ok && format == "svg" {
					if m := svgAny.FindString(svgCall.ReplaceAllString(body, "")); m != "" {
						t.Errorf("svg: %q outside the calls", m)
					}
				}
			}
			if len(want) > 0 {
				page, _ := HTML(f, "")
				if !strings.Contains(string(page), `className = "call-link"`) {
					t.Error("the HTML page's details do not link a call to its flow")
				}
			}
		})
	}
	if !slices.ContainsFunc(goldenCases(t), func(d string) bool { return filepath.Base(d) == "call" }) {
		t.Error("no golden case has calls")
	}
}
