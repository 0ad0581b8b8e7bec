package graph

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// TestLayoutLinearInSteps checks that a flow lays out with a number of
// vertices (boxes and the dummies of edges that cross ranks) proportional
// to its steps, whether its steps have a rollback or not. With the
// compensation chain laid out below the last step, each step's failure
// edge crossed every rank down to its undo state: 400 steps made 159,607
// vertices (805 then) and a 2,000-step diagram took 38.6 s
// (docs/benchmarks.md). The aborting state has an edge to every undo
// state: laid out as ordinary edges, they would cross every rank down to
// them too. Without rollbacks, each step fails straight into the failed
// state below the last: its edge crossed every rank below the step (1,280
// vertices for 50 steps, 55 now; 400 were refused as too large to draw),
// until the edges into final states ran on rails. Counting vertices rather than timing keeps the test exact on a
// loaded machine.
func TestLayoutLinearInSteps(t *testing.T) {
	for _, rollback := range []bool{true, false} {
		for _, n := range []int{50, 400} {
			steps := make([]*dsl.Step, n)
			for i := range steps {
				if rollback {
					steps[i] = goStep(fmt.Sprintf("S%d", i), withRollback(fmt.Sprintf("Undo%d", i)))
				} else {
					steps[i] = goStep(fmt.Sprintf("S%d", i))
				}
			}
			d, err := build(flowOf("Big", steps...), "")
			if err != nil {
				t.Fatal(err)
			}
			L, err := layoutFlow(d.flows[0])
			if err != nil {
				t.Fatalf("%d steps (rollbacks %v): %v", n, rollback, err)
			}
			// Per step: its box and its undo state's; the edges to the
			// terminals add dummies once.
			if limit := 4 * n; len(L.verts) > limit {
				t.Errorf("%d steps (rollbacks %v): %d vertices in the layout, want at most %d", n, rollback, len(L.verts), limit)
			}
		}
	}
}

// The edges into final states run on rails left of every box: each
// leaves its source's bottom, turns off below the source's rank, runs
// down its final state's rail and turns into the target's top above its
// rank, crossing no box on the way.
func TestFallRail(t *testing.T) {
	files := map[string]*dsl.File{}
	for _, dir := range goldenCases(t) {
		files[dir] = loadCase(t, dir)
	}
	steps := make([]*dsl.Step, 30)
	for i := range steps {
		steps[i] = goStep(fmt.Sprintf("S%d", i))
		if i%10 == 0 { // and done from some: two rails
			steps[i] = goStep(fmt.Sprintf("S%d", i), withOutcomes("skip"), withOn("skip", "done"))
		}
	}
	files["30 steps"] = flowOf("Big", steps...)
	falls := 0
	type drop struct {
		from string
		x    float64
	}
	drops := map[drop]string{} // the target of each drop from a box
	for name, f := range files {
		d, err := build(f, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range d.flows {
			L, err := layoutFlow(g)
			if err != nil {
				t.Fatal(err)
			}
			for _, rt := range L.routes {
				if !rt.fall {
					continue
				}
				falls++
				p := rt.pts
				// Edges from one box to different final states drop side
				// by side: on one line, they would read as one edge that
				// forks.
				if to, ok := drops[drop{name + rt.e.from, p[0][0]}]; ok && to != rt.e.to {
					t.Errorf("%s: the edges from %s to %s and %s drop on one line at x=%v", name, rt.e.from, to, rt.e.to, p[0][0])
				}
				drops[drop{name + rt.e.from, p[0][0]}] = rt.e.to
				if len(p) != 6 || p[0][0] != p[1][0] || p[1][1] != p[2][1] || p[2][0] != p[3][0] || p[3][1] != p[4][1] || p[4][0] != p[5][0] {
					t.Fatalf("%s: edge %s -> %s: not drop, left, down, right, drop: %v", name, rt.e.from, rt.e.to, p)
				}
				for _, v := range L.verts {
					if v.n == nil {
						continue
					}
					x0, x1, y0, y1 := v.x-v.w/2, v.x+v.w/2, v.y-v.h/2, v.y+v.h/2
					if p[2][0] >= x0 {
						t.Errorf("%s: the rail of %s -> %s at x=%v is not left of %s", name, rt.e.from, rt.e.to, p[2][0], v.id)
					}
					for _, k := range []int{1, 3} { // the level stretches
						if y := p[k][1]; y > y0 && y < y1 && min(p[k][0], p[k+1][0]) < x1 && max(p[k][0], p[k+1][0]) > x0 {
							t.Errorf("%s: edge %s -> %s at y=%v crosses %s", name, rt.e.from, rt.e.to, y, v.id)
						}
					}
					for _, k := range []int{0, 4} { // the drops
						if v.id == rt.e.from || v.id == rt.e.to {
							continue
						}
						if x := p[k][0]; x > x0 && x < x1 && y1 > p[k][1] && y0 < p[k+1][1] {
							t.Errorf("%s: edge %s -> %s at x=%v crosses %s", name, rt.e.from, rt.e.to, x, v.id)
						}
					}
				}
			}
		}
	}
	if falls < 30 {
		t.Errorf("%d edges on the rails, want at least 30", falls)
	}
}

// Edges that jump ahead between steps still cross every rank between:
// n of them over n steps need about n²/2 dummies. Beyond
// MaxLayoutVertices the diagram is refused with ErrTooLarge, checked
// before the layout's costly stages (on a route any client may ask for,
// GET /flows/{flow}/diagram), while a flow within it is drawn.
func TestLayoutBound(t *testing.T) {
	jumps := func(n int) *dsl.File {
		steps := make([]*dsl.Step, n)
		for i := range steps {
			steps[i] = goStep(fmt.Sprintf("S%d", i), withOutcomes("skip"), withOn("skip", fmt.Sprintf("S%d", n-1)))
		}
		steps[n-1] = goStep(fmt.Sprintf("S%d", n-1))
		return flowOf("Big", steps...)
	}
	if _, err := SVG(jumps(400), ""); !errors.Is(err, ErrTooLarge) {
		t.Errorf("400 steps that jump to the last: %v, want ErrTooLarge", err)
	}
	if _, err := HTML(jumps(400), ""); !errors.Is(err, ErrTooLarge) {
		t.Errorf("the page of 400 steps that jump to the last: %v, want ErrTooLarge", err)
	}
	d, err := build(jumps(150), "")
	if err != nil {
		t.Fatal(err)
	}
	L, err := layoutFlow(d.flows[0])
	if err != nil {
		t.Fatalf("150 steps: %v", err)
	}
	if len(L.verts) < MaxLayoutVertices/3 {
		t.Errorf("150 steps: %d vertices, far below the bound: the test proves little", len(L.verts))
	}
}

// The abort edges run on a rail right of every box and turn off it in the
// gaps between ranks: they cross no box but the one they enter.
func TestAbortRail(t *testing.T) {
	for _, dir := range goldenCases(t) {
		d, err := build(loadCase(t, dir), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range d.flows {
			L, err := layoutFlow(g)
			if err != nil {
				t.Fatal(err)
			}
			rails := 0
			for _, rt := range L.routes {
				if !rt.e.abort {
					continue
				}
				rails++
				if !rt.rail || len(rt.pts) != 5 {
					t.Fatalf("%s: abort edge %s -> %s not on the rail: %v", dir, rt.e.from, rt.e.to, rt.pts)
				}
				for _, v := range L.verts {
					if v.n == nil || v.id == rt.e.from {
						continue
					}
					x0, x1, y0, y1 := v.x-v.w/2, v.x+v.w/2, v.y-v.h/2, v.y+v.h/2
					if rt.pts[1][0] <= x1 {
						t.Errorf("%s: the rail at x=%v is not right of %s", dir, rt.pts[1][0], v.id)
					}
					// The turn: from the rail left to the drop.
					if y := rt.pts[2][1]; y > y0 && y < y1 && rt.pts[3][0] < x1 {
						t.Errorf("%s: the turn to %s at y=%v crosses %s", dir, rt.e.to, y, v.id)
					}
					// The drop, into the target only.
					if x := rt.pts[3][0]; v.id != rt.e.to && x > x0 && x < x1 && y1 > rt.pts[3][1] && y0 < rt.pts[4][1] {
						t.Errorf("%s: the drop into %s crosses %s", dir, rt.e.to, v.id)
					}
				}
			}
			if rails == 0 {
				t.Errorf("%s: flow %s has no abort edge", dir, g.name)
			}
		}
	}
}

// No two edge labels print over one another, nor over a box: the labels of edges that
// span several ranks and converge on one box, all at their edges' middles,
// printed as "errorerrorerror timeout" in the order flow's diagram (found
// looking at the web view). The corpus (goldens, the language's good
// flows, the examples) is checked.
func TestLabelsDoNotOverlap(t *testing.T) {
	files := map[string]*dsl.File{}
	for name, src := range corpus(t) {
		f, diags := flowfile.Load(filepath.Base(name), src, dsl.CheckOptions{})
		if diags.HasErrors() || f == nil {
			continue // the language corpus may hold flows only the parser accepts
		}
		files[name] = f
	}
	for name, f := range files {
		d, err := build(f, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range d.flows {
			L, err := layoutFlow(g)
			if err != nil {
				t.Fatal(err)
			}
			type box struct {
				label string
				b     [4]float64
				to    string
			}
			var boxes []box
			for _, rt := range L.routes {
				if rt.e.label == "" || rt.rail {
					continue // the abort edges' labels print as one, by design
				}
				x, y := rt.labelPos[0], rt.labelPos[1]
				// The text, and half a glyph either side: labels closer
				// than a glyph read as one ("errorerror"). Its baseline
				// is 3 below y (writeRoute): the 10px glyphs reach 7.3
				// above it and 2.4 below, and their white halo (.fg-label)
				// 1.5 further, so a label whose box ended 4 below y hid
				// the top border of a box with its descenders.
				m := labelGlyph / 2
				boxes = append(boxes, box{rt.e.label, [4]float64{x - m, y - 6, x + textWidth(rt.e.label, labelGlyph) + m, y + 7}, rt.e.to})
			}
			// Nor does an abort edge's turn off the rail run through one.
			for _, rt := range L.routes {
				if !rt.rail {
					continue
				}
				y, x0 := rt.pts[2][1], rt.pts[3][0]
				for _, a := range boxes {
					if a.b[1] < y && y < a.b[3] && a.b[2] > x0 {
						t.Errorf("%s, flow %s: the abort edge to %s turns at y=%v through label %q (to %s) at %v", name, g.name, rt.e.to, y, a.label, a.to, a.b)
					}
				}
			}
			// Nor does one print over a box (its border included): the
			// conditions of a choose whose edges fan out to the next
			// rank and past it sat on the top border of the box below
			// (testdata/graph/loan, Route).
			for _, v := range L.verts {
				if v.dummy {
					continue
				}
				n := [4]float64{v.x - v.w/2, v.y - v.h/2, v.x + v.w/2, v.y + v.h/2}
				for _, a := range boxes {
					if a.b[0] < n[2] && n[0] < a.b[2] && a.b[1] < n[3] && n[1] < a.b[3] {
						t.Errorf("%s, flow %s: label %q (to %s) at %v covers box %s at %v", name, g.name, a.label, a.to, a.b, v.id, n)
					}
				}
			}
			for i, a := range boxes {
				for _, b := range boxes[:i] {
					if a.b[0] < b.b[2] && b.b[0] < a.b[2] && a.b[1] < b.b[3] && b.b[1] < a.b[3] {
						t.Errorf("%s, flow %s: label %q (to %s) at %v covers %q (to %s) at %v", name, g.name, a.label, a.to, a.b, b.label, b.to, b.b)
					}
				}
			}
		}
	}
}

// A label keeps off the other edges where a place along its own edge is
// clear of them: the condition of Route's edge to Approve in the loan
// case, drawn past Review, lay on Route's edge to Review, and Approve's
// error edge ran through its own label where it runs nearly level.
func TestLabelsOffEdges(t *testing.T) {
	f := loadCase(t, filepath.Join(goldenDir, "loan"))
	d, err := build(f, "Loan")
	if err != nil {
		t.Fatal(err)
	}
	L, err := layoutFlow(d.flows[0])
	if err != nil {
		t.Fatal(err)
	}
	clear := map[[2]string]bool{{"Loan_Route", "Loan_Approve"}: true, {"Loan_Approve", "Loan_failed"}: true}
	for i, rt := range L.routes {
		if !clear[[2]string{rt.e.from, rt.e.to}] {
			continue
		}
		// The printed text, its halo left out: an edge may pass
		// through that.
		x, y := rt.labelPos[0], rt.labelPos[1]
		ink := [4]float64{x, y - 4.3, x + textWidth(rt.e.label, labelGlyph), y + 5.4}
		for j, o := range L.routes {
			if o.rail {
				continue
			}
			for k := 0; k+1 < len(o.pts); k++ {
				q := curve(o.pts[k], o.pts[k+1])
				if o.self {
					q = [4][2]float64{o.pts[k], o.pts[k], o.pts[k+1], o.pts[k+1]}
				}
				for s := 0.0; s <= 1; s += 1.0 / 64 {
					p := bezier(q, s)
					if ink[0] < p[0] && p[0] < ink[2] && ink[1] < p[1] && p[1] < ink[3] {
						t.Errorf("label %q (%s -> %s) at %v: edge %s -> %s runs through it at %v (own edge: %v)", rt.e.label, rt.e.from, rt.e.to, ink, o.e.from, o.e.to, p, i == j)
						s = 2 // once per curve
					}
				}
			}
		}
	}
}
