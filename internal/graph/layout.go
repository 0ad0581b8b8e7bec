package graph

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// A layered layout of a flow's diagram, computed here so that a diagram
// can be drawn as SVG where Graphviz is not installed (the web view of
// `flowgen serve`, `flowgen graph -format html`): Sugiyama's method, kept
// small.
//
//  1. Cycles (retry loops drawn as outcomes back to an earlier step) are
//     broken by a depth-first search from the start point: an edge into a
//     vertex on the search's stack is reversed for the layout only.
//  2. Each vertex gets the rank of its longest path from the start, so
//     every edge goes down at least one rank.
//  3. An edge that spans several ranks gets a dummy vertex on each rank it
//     crosses, so that it is routed around the boxes in between.
//  4. The order within each rank is improved by barycentre sweeps (each
//     vertex moves towards the mean position of its neighbours in the rank
//     above, then below), which removes most crossings.
//  5. Each vertex is pulled towards its neighbours' centres horizontally,
//     and the ranks are packed without overlap.
//
// Sizes come from the text: labels are drawn in a monospace font, so a
// line's width is its length times the glyph width.
//
// The aborting state takes no part in this: it sits in the top rank, at
// the right, and its edges (one to every undo state an abort's rollbacks
// can begin at, which may be every undo state) run down a rail right of
// the diagram, each turning left in the gap above its target's rank and
// down into the target's top. Laid out as ordinary edges, they would cross
// every rank down to their targets: O(n²) dummies again.
//
// So do the edges into a final state (failed, done, compensated...) that
// cross more than one rank: each leaves its box's bottom, turns left just
// below its rank, runs down a rail left of the diagram (one for each final
// state) and turns right just above its target's rank, into the target's
// top a quarter of its width left of its centre. Laid out as ordinary edges, a
// flow of n steps that fail straight to failed (no rollback before them)
// needed about n²/2 dummies: each failure edge crossed every rank below
// its step.

// Layout metrics, in SVG user units (pixels at scale 1).
const (
	glyphW     = 7.2  // width of a glyph of the 12px monospace font
	titleH     = 18.0 // height of a node's title line
	lineH      = 15.0 // height of a detail line
	padX       = 10.0 // horizontal padding inside a box
	callBar    = 6.0  // how far inside a call's box its side bars stand (svg.go); its text keeps padX clear of them
	padY       = 8.0
	rankSep    = 56.0 // vertical gap between ranks
	nodeSep    = 28.0 // horizontal gap between boxes of a rank
	startR     = 6.0  // radius of the start point
	labelGlyph = 6.0  // width of a glyph of the 10px edge labels
	railGap    = 16.0 // from the rightmost box or label to the abort edges' rail
	railTurn   = 8.0  // how far above its target's rank an abort edge turns off the rail
	railLabel  = 16.0 // how far below the aborting state's middle the abort edges' label is
	fallDrop   = 20.0 // how far below its source's rank an edge into a final state turns off to its rail
	fallSep    = 8.0  // between the rails (and the turns) of edges into different final states
	fallCross  = 1    // the ranks an edge into a final state may cross before it takes the rail
)

// vertex is a box, the start point, or a dummy of a long edge.
type vertex struct {
	n      *node // nil for the start point and dummies
	id     string
	start  bool
	dummy  bool
	w, h   float64
	rank   int
	order  int
	x, y   float64 // centre
	up, dn []int   // neighbours in the rank above and below (vertex indexes)
}

// route is an edge of the flow with the points it passes through.
type route struct {
	e        edge
	pts      [][2]float64 // from the source's border to the target's
	self     bool
	rail     bool // an abort edge, straight segments along the rail
	fall     bool // an edge into a final state across ranks, straight segments along a rail on the left
	labelPos [2]float64
}

// flowLayout is one flow laid out, in its own coordinates from (0, 0).
type flowLayout struct {
	g      *flowGraph
	verts  []*vertex // the first len(g.nodes)+1: the start point, then g.nodes
	routes []route
	w, h   float64
}

func textWidth(s string, glyph float64) float64 {
	return float64(utf8.RuneCountInString(s)) * glyph
}

// inset is the room left and right of a box's text: padX, and a call's
// side bars.
func inset(n *node) float64 {
	if n.call != "" {
		return callBar + padX
	}
	return padX
}

// MaxLayoutVertices bounds the layout of one flow: its boxes and the
// dummy vertices of its edges that cross ranks, one a rank crossed. The
// edges into final states and the abort edges run on rails and need none,
// and the compensation chain is laid out beside the steps, so a flow
// needs about two vertices a step with rollbacks (some 10,000 steps) and
// one without (some 20,000). Edges that jump ahead between steps (an outcome to a step
// further on) still cross every rank between: n such edges over n steps
// need about n²/2 of them, and the layout, SVG and labels grow so; 20,000
// is some 200 such steps, drawn in about a second. A flow beyond it is not
// drawn (ErrTooLarge): DOT and Mermaid, laid out by their own tools, still
// are.
const MaxLayoutVertices = 20000

// ErrTooLarge: a flow's layout needs more than MaxLayoutVertices vertices.
var ErrTooLarge = errors.New("too large to draw")

func layoutFlow(g *flowGraph) (*flowLayout, error) {
	L := &flowLayout{g: g}
	index := map[string]int{}
	add := func(v *vertex) int {
		L.verts = append(L.verts, v)
		return len(L.verts) - 1
	}
	index[g.startID] = add(&vertex{id: g.startID, start: true, w: 2 * startR, h: 2 * startR})
	for _, n := range g.nodes {
		w := textWidth(n.title, glyphW+0.6)
		for _, l := range n.lines {
			w = math.Max(w, textWidth(l, glyphW))
		}
		h := titleH + float64(len(n.lines))*lineH + 2*padY - 4
		index[n.id] = add(&vertex{n: n, id: n.id, w: math.Ceil(w + 2*inset(n)), h: h})
	}
	from := func(e edge) int {
		if e.from == "" {
			return index[g.startID]
		}
		return index[e.from]
	}
	nv := len(L.verts)

	// The compensation chain (an undo state to the undo of the step
	// completed before) is laid out pointing up, so each undo state sits
	// beside the steps that fail into it. Laid out pointing down, the chain
	// would run in reverse below the last step, and the failure edge of
	// every step would cross all the ranks between: a flow of n steps
	// would need O(n²) dummies (a 2,000-step flow took 38.6 s and 1.4 GB).
	up := func(e edge) bool {
		return e.from != "" && L.verts[index[e.from]].n.kind == nodeUndo && L.verts[index[e.to]].n.kind == nodeUndo
	}
	aborting := -1 // the aborting state's vertex
	for i, v := range L.verts {
		if v.n != nil && v.n.kind == nodeAborting {
			aborting = i
		}
	}
	// 1. Break cycles: depth-first from the start, then from any vertex
	// not reached, in node order (deterministic). An edge laid out
	// pointing up is entered reversed.
	succ := make([][]int, nv)
	for _, e := range g.edges {
		a, b := from(e), index[e.to]
		if a == b || e.abort {
			continue
		}
		if up(e) {
			a, b = b, a
		}
		succ[a] = append(succ[a], b)
	}
	const (
		unseen = iota
		onStack
		finished
	)
	mark := make([]int, nv)
	back := map[[2]int]bool{} // in succ's orientation
	var dfs func(int)
	dfs = func(v int) {
		mark[v] = onStack
		for _, w := range succ[v] {
			switch mark[w] {
			case unseen:
				dfs(w)
			case onStack:
				back[[2]int{v, w}] = true
			}
		}
		mark[v] = finished
	}
	for v := range nv {
		if mark[v] == unseen {
			dfs(v)
		}
	}
	// The layout's edges, pointing down.
	type ledge struct{ a, b int }
	// orient is e as laid out, pointing down, and whether that reverses it.
	orient := func(e edge) (le ledge, rev bool) {
		a, b := from(e), index[e.to]
		if up(e) {
			a, b, rev = b, a, true
		}
		if back[[2]int{a, b}] {
			a, b, rev = b, a, !rev
		}
		return ledge{a, b}, rev
	}
	var ledges []ledge
	seen := map[ledge]bool{}
	for _, e := range g.edges {
		if from(e) == index[e.to] || e.abort {
			continue
		}
		le, _ := orient(e)
		if !seen[le] {
			seen[le] = true
			ledges = append(ledges, le)
		}
	}
	// An undo state that no failure enters and that undoes the first
	// step to complete (the rollback of a last step, which only an abort
	// runs) has no edge from above: it hangs below its own step, where an
	// abort while the step runs leads to it, by an edge of the layout
	// only. Its own edges lead to undo states and terminals, never back to
	// a step, so this closes no cycle.
	entered := make([]bool, nv)
	for _, le := range ledges {
		entered[le.b] = true
	}
	stepVert := map[string]int{}
	for i, v := range L.verts {
		if v.n != nil && v.n.kind == nodeStep {
			if _, dup := stepVert[v.n.step]; !dup {
				stepVert[v.n.step] = i
			}
		}
	}
	for i, v := range L.verts {
		if v.n == nil || v.n.kind != nodeUndo || entered[i] {
			continue
		}
		if s, ok := stepVert[v.n.step]; ok {
			ledges = append(ledges, ledge{s, i})
		}
	}

	// 2. Longest-path ranks, relaxed to a fixed point (the graph is now
	// acyclic, so at most nv rounds).
	for range nv {
		changed := false
		for _, le := range ledges {
			if r := L.verts[le.a].rank + 1; r > L.verts[le.b].rank {
				L.verts[le.b].rank = r
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	// A box no edge of the layout touches (aborted, when only the abort
	// edge on the rail enters it) goes to the bottom, with the other final
	// states; the aborting state goes to the top.
	touched := make([]bool, nv)
	bottomRank := 0
	for _, le := range ledges {
		touched[le.a], touched[le.b] = true, true
		bottomRank = max(bottomRank, L.verts[le.b].rank)
	}
	for v := 1; v < nv; v++ { // 0 is the start point
		if !touched[v] && v != aborting {
			L.verts[v].rank = bottomRank
		}
	}

	// The edges into a final state that cross more than fallCross ranks
	// run on the rails (below), not through dummies: ranked, they keep
	// the final states below their sources. One that crosses a rank only
	// (the step before last's failure) is drawn as a curve beside its
	// neighbours, not sent round the diagram.
	fall := map[ledge]bool{}
	ledges = slices.DeleteFunc(ledges, func(le ledge) bool {
		t := L.verts[le.b]
		if t.n != nil && t.n.kind == nodeTerminal && t.rank-L.verts[le.a].rank > 1+fallCross {
			fall[le] = true
		}
		return fall[le]
	})

	// 3. Dummies on long edges; chains maps a layout edge to its vertices.
	chains := map[ledge][]int{}
	for _, le := range ledges {
		chain := []int{le.a}
		for r := L.verts[le.a].rank + 1; r < L.verts[le.b].rank; r++ {
			chain = append(chain, add(&vertex{dummy: true, rank: r, w: 8, h: 1}))
		}
		chain = append(chain, le.b)
		for i := 0; i+1 < len(chain); i++ {
			u, d := L.verts[chain[i]], L.verts[chain[i+1]]
			u.dn = append(u.dn, chain[i+1])
			d.up = append(d.up, chain[i])
		}
		chains[le] = chain
		if len(L.verts) > MaxLayoutVertices {
			return nil, fmt.Errorf("flow %s: %w: its layout needs more than %d boxes and edge bends (graph.MaxLayoutVertices); draw it with -format dot and Graphviz, or split it with call steps", g.name, ErrTooLarge, MaxLayoutVertices)
		}
	}

	// 4. Order within ranks: first by discovery, then barycentre sweeps.
	maxRank := 0
	for _, v := range L.verts {
		maxRank = max(maxRank, v.rank)
	}
	ranks := make([][]int, maxRank+1)
	for i, v := range L.verts {
		ranks[v.rank] = append(ranks[v.rank], i)
	}
	setOrder := func(r []int) {
		for i, v := range r {
			L.verts[v].order = i
		}
	}
	for _, r := range ranks {
		setOrder(r)
	}
	bary := func(v *vertex, nbrs []int) float64 {
		if len(nbrs) == 0 {
			return float64(v.order)
		}
		s := 0.0
		for _, n := range nbrs {
			s += float64(L.verts[n].order)
		}
		return s / float64(len(nbrs))
	}
	for sweep := range 8 {
		down := sweep%2 == 0
		for k := range ranks {
			r := k
			if !down {
				r = len(ranks) - 1 - k
			}
			key := map[int]float64{}
			for _, v := range ranks[r] {
				if down {
					key[v] = bary(L.verts[v], L.verts[v].up)
				} else {
					key[v] = bary(L.verts[v], L.verts[v].dn)
				}
			}
			slices.SortStableFunc(ranks[r], func(a, b int) int {
				switch {
				case key[a] < key[b]:
					return -1
				case key[a] > key[b]:
					return 1
				}
				return 0
			})
			setOrder(ranks[r])
		}
	}
	if aborting >= 0 { // the right end of the top rank
		r := ranks[0]
		r = append(slices.DeleteFunc(r, func(v int) bool { return v == aborting }), aborting)
		ranks[0] = r
		setOrder(r)
	}

	// 5. Coordinates. y: ranks stacked, each as tall as its tallest box.
	y := 0.0
	rankTop, rankBottom := make([]float64, len(ranks)), make([]float64, len(ranks))
	for k, r := range ranks {
		rankTop[k] = y
		hmax := 0.0
		for _, v := range r {
			hmax = math.Max(hmax, L.verts[v].h)
		}
		rankBottom[k] = y + hmax
		for _, v := range r {
			L.verts[v].y = y + hmax/2
		}
		y += hmax + rankSep
	}
	L.h = y - rankSep
	// x: packed left to right, then pulled towards the neighbours' mean
	// and packed again, a few rounds.
	pack := func(r []int) {
		// Left to right: no overlap with the left neighbour.
		for i := 1; i < len(r); i++ {
			a, b := L.verts[r[i-1]], L.verts[r[i]]
			if min := a.x + a.w/2 + nodeSep + b.w/2; b.x < min {
				b.x = min
			}
		}
	}
	for _, r := range ranks {
		x := 0.0
		for _, v := range r {
			L.verts[v].x = x + L.verts[v].w/2
			x += L.verts[v].w + nodeSep
		}
	}
	for round := range 6 {
		for k := range ranks {
			r := ranks[k]
			if round%2 == 1 {
				r = ranks[len(ranks)-1-k]
			}
			for _, vi := range r {
				v := L.verts[vi]
				nbrs := append(slices.Clone(v.up), v.dn...)
				if len(nbrs) == 0 {
					continue
				}
				s := 0.0
				for _, n := range nbrs {
					s += L.verts[n].x
				}
				v.x = s / float64(len(nbrs))
			}
			pack(r)
			// Right to left: keep the order, moving boxes left where the
			// pull pushed them past their right neighbour's wish.
			for i := len(r) - 2; i >= 0; i-- {
				a, b := L.verts[r[i]], L.verts[r[i+1]]
				if lim := b.x - b.w/2 - nodeSep - a.w/2; a.x > lim {
					a.x = lim
				}
			}
		}
	}
	if aborting >= 0 {
		// At the right edge of the boxes, clear of the rest of its rank.
		a := L.verts[aborting]
		right, rank0 := math.Inf(-1), math.Inf(-1)
		for i, v := range L.verts {
			if i == aborting || v.dummy {
				continue
			}
			right = math.Max(right, v.x+v.w/2)
			if v.rank == 0 {
				rank0 = math.Max(rank0, v.x+v.w/2)
			}
		}
		a.x = math.Max(right-a.w/2, rank0+nodeSep+a.w/2)
	}
	// Everything is shifted right of x = 0 at the end, labels on the left
	// included.
	minX, maxX := math.Inf(1), math.Inf(-1)
	for _, v := range L.verts {
		minX = math.Min(minX, v.x-v.w/2)
		maxX = math.Max(maxX, v.x+v.w/2)
	}

	// The final states that edges fall into, left to right: the leftmost
	// takes the outermost rail and turns off it lowest, so that no rail
	// crosses another's turn.
	var falls []int
	for le := range fall {
		if !slices.Contains(falls, le.b) {
			falls = append(falls, le.b)
		}
	}
	slices.SortFunc(falls, func(a, b int) int {
		if c := cmp.Compare(L.verts[a].x, L.verts[b].x); c != 0 {
			return c
		}
		return a - b
	})
	boxMinX := minX

	// Routes, in the flow's edge order: through the chain of the layout
	// edge, reversed back for a back edge.
	fanOut, fanIn := make([]int, nv), make([]int, nv) // labelled edges out of and into each box
	for _, e := range g.edges {
		if e.label != "" && !e.abort {
			fanOut[from(e)]++
			fanIn[index[e.to]]++
		}
	}
	var pref []float64 // per route: where along its curve a label between adjacent ranks prefers to be
	for _, e := range g.edges {
		if e.abort {
			continue // on the rail, below
		}
		a, b := from(e), index[e.to]
		rt := route{e: e}
		if a == b {
			v := L.verts[a]
			rt.self = true
			rx, ty := v.x+v.w/2, v.y-v.h/4
			rt.pts = [][2]float64{{rx, ty}, {rx + 24, ty}, {rx + 24, v.y + v.h/4}, {rx, v.y + v.h/4}}
			rt.labelPos = [2]float64{rx + 28, v.y}
			pref = append(pref, 0)
			L.routes = append(L.routes, rt)
			maxX = math.Max(maxX, rx+28+textWidth(e.label, labelGlyph))
			continue
		}
		le, rev := orient(e)
		if fall[le] {
			// Down from the source's bottom a quarter of its width left
			// of its centre (the other edges leave from the centre), left
			// below its rank to the rail, whose x is set once the labels
			// are placed, down, and right above the target's rank into
			// its top.
			k := slices.Index(falls, le.b)
			s, t := L.verts[a], L.verts[b]
			// Edges from one box to different final states drop side
			// by side, the one to the rightmost state furthest right
			// and turning off lowest, so that none crosses another.
			ex := min(s.x-s.w/4+fallSep*float64(k), s.x+s.w/2)
			in := t.x - t.w/4
			gy := rankBottom[s.rank] + fallDrop + fallSep*float64(k)
			turn := rankTop[t.rank] - railTurn - fallSep*float64(1+k)
			rt.fall = true
			rt.pts = [][2]float64{{ex, s.y + s.h/2}, {ex, gy}, {0, gy}, {0, turn}, {in, turn}, {in, t.y - t.h/2}}
			pref = append(pref, 0)
			L.routes = append(L.routes, rt)
			continue
		}
		chain := chains[le]
		var pts [][2]float64
		for i, vi := range chain {
			v := L.verts[vi]
			switch {
			case i == 0:
				pts = append(pts, [2]float64{v.x, v.y + v.h/2})
			case i == len(chain)-1:
				pts = append(pts, [2]float64{v.x, v.y - v.h/2})
			default:
				pts = append(pts, [2]float64{v.x, v.y})
			}
		}
		if rev {
			slices.Reverse(pts)
		}
		rt.pts = pts
		pref = append(pref, labelAt(fanOut[a] > 1, fanIn[b] > 1))
		L.routes = append(L.routes, rt)
	}
	// Labels keep off the boxes, and off the abort edges' turns off the
	// rail (below), which cross the gap above their targets' ranks, where
	// labels sit.
	var avoid [][4]float64
	for _, v := range L.verts {
		if !v.dummy {
			avoid = append(avoid, [4]float64{v.x - v.w/2, v.y - v.h/2, v.x + v.w/2, v.y + v.h/2})
		}
	}
	for _, e := range g.edges {
		if e.abort {
			t := L.verts[index[e.to]]
			y := rankTop[t.rank] - railTurn
			avoid = append(avoid, [4]float64{t.x + t.w/4, y - 1, math.Inf(1), y + 1})
		}
	}
	// Nor do they lie on the level stretches of the edges into final
	// states, to the left of the boxes: not to the left without end, so
	// that a label can still be put left of all (nearestFree).
	for _, rt := range L.routes {
		if rt.fall {
			// From the rail (x not yet known) to the bend at the drop
			// from the source, and to the drop into the target.
			for _, p := range [][2]float64{rt.pts[1], rt.pts[4]} {
				avoid = append(avoid, [4]float64{boxMinX - railGap, p[1] - 1, p[0], p[1] + 1})
			}
		}
	}
	placeLabels(L.routes, pref, avoid)
	for _, rt := range L.routes {
		if rt.e.label != "" {
			b := inkBox(rt.e.label, rt.labelPos)
			minX, maxX = math.Min(minX, b[0]), math.Max(maxX, b[2])
		}
	}
	if len(falls) > 0 {
		// Left of every box and label, the leftmost final state's the
		// outermost.
		out := minX - railGap - fallSep*float64(len(falls)-1)
		for i := range L.routes {
			if rt := &L.routes[i]; rt.fall {
				x := out + fallSep*float64(slices.Index(falls, index[rt.e.to]))
				rt.pts[2][0], rt.pts[3][0] = x, x
			}
		}
		minX = out
	}
	// The abort edges: right along the rail, left just above the target's
	// rank (below the labels of the edges that cross the gap), down into
	// the target's top a quarter of its width right of its centre, where
	// the other edges come in. Their labels ("abort") sit at one place, on
	// the rail by the aborting state, where they print as one.
	rail := maxX + railGap
	for _, e := range g.edges {
		if !e.abort {
			continue
		}
		a, t := L.verts[from(e)], L.verts[index[e.to]]
		turn, in := rankTop[t.rank]-railTurn, t.x+t.w/4
		L.routes = append(L.routes, route{e: e, rail: true,
			pts:      [][2]float64{{a.x + a.w/2, a.y}, {rail, a.y}, {rail, turn}, {in, turn}, {in, t.y - t.h/2}},
			labelPos: [2]float64{rail + 4, a.y + railLabel},
		})
		maxX = math.Max(maxX, rail+4+textWidth(e.label, labelGlyph))
	}
	for _, v := range L.verts {
		v.x -= minX
	}
	for i := range L.routes {
		for j := range L.routes[i].pts {
			L.routes[i].pts[j][0] -= minX
		}
		L.routes[i].labelPos[0] -= minX
	}
	L.w = maxX - minX
	return L, nil
}

// placeLabels places the label of each edge where it covers no box of
// avoid (the boxes of the diagram, the lines of the abort edges' turns)
// nor a label placed before, and crosses as few other edges as it can
// (counted up to maxCrossed); of the places as good, the one nearest its
// preferred place. The labels
// of edges that converge on one box or leave one (a choose's conditions)
// sat at one height, printed over one another ("errorerror timeout");
// checked against labels only, a choose's conditions sat on the top
// border of the box below, over the edges going past it.
//
// The places an edge's label may take, preferred first: an edge between
// adjacent ranks prefers the point labelAt chooses (its route has two
// points, pref set by the caller) and may move along its curve; one that
// spans several ranks prefers its middle bend and may move to its other
// bends and the middles of the curves between them, then along those
// curves. Each place is right of the edge; after all of those come the
// same places left of it, then above it, then below it, then further
// above and below (an edge that runs nearly level for the width of its
// label lies on the text a line's height above it). Where none is
// free, the label goes along the row of its preferred place to the
// nearest free spot, which exists: a row is free left of every box.
func placeLabels(routes []route, pref []float64, avoid [][4]float64) {
	var placed labelGrid
	for _, b := range avoid {
		placed.add(b)
	}
	var lines lineGrid
	for i, rt := range routes {
		lines.addRoute(i, rt)
	}
	places := make([][][2]float64, len(routes)) // per route, the preferred first
	for i := range routes {
		rt := &routes[i]
		switch n := len(rt.pts); {
		case rt.self:
			places[i] = [][2]float64{rt.labelPos}
		case rt.fall:
			// On the level stretch, ending at the bend below the
			// source, then right of the drop (beside the edges from the
			// source's centre, where a narrow source's label would read
			// as theirs), then further along the level stretch.
			ex, gy, w := rt.pts[1][0], rt.pts[1][1], textWidth(rt.e.label, labelGlyph)
			places[i] = [][2]float64{{ex - 6 - w, gy - 10}, {ex - 6 - w, gy + 10}, {ex + 5, gy - 10}, {ex + 5, gy + 10}}
			for j := 1.0; j <= 4; j++ {
				x := ex - 6 - w - j*(w+12)
				places[i] = append(places[i], [2]float64{x, gy - 10}, [2]float64{x, gy + 10})
			}
		case n == 2:
			for _, t := range append([]float64{pref[i]}, labelTs...) {
				places[i] = append(places[i], labelPoint(rt.pts[0], rt.pts[1], t))
			}
		default:
			for _, h := range outFrom(2*(n/2), 1, 2*n-3) { // in half points
				if h%2 == 0 {
					places[i] = append(places[i], [2]float64{rt.pts[h/2][0] + 4, rt.pts[h/2][1]})
				} else {
					places[i] = append(places[i], labelPoint(rt.pts[h/2], rt.pts[h/2+1], 0.5))
				}
			}
			for k := 0; k+1 < n; k++ {
				for _, t := range labelTs[1:] {
					places[i] = append(places[i], labelPoint(rt.pts[k], rt.pts[k+1], t))
				}
			}
		}
		// The places nearest the preferred ones only: a long edge has
		// places on each of its ranks, and each place is checked against
		// the edges near it, so that a flow of n steps, whose edges to
		// its end states span up to n ranks, would cost n³.
		places[i] = places[i][:min(len(places[i]), maxLabelPlaces)]
		rt.labelPos = places[i][0]
		if !rt.self && !rt.fall {
			// Left of the edge (the text ends where it began right of
			// it), then above and below it, centred: where the edge
			// runs nearly level, the text right or left of it lies on
			// it; then further above and below, for an edge that runs
			// level for the width of the text (the loan case's error
			// edge from Approve to failed beside it).
			w := textWidth(rt.e.label, labelGlyph)
			right := places[i]
			for _, d := range [][2]float64{{-8 - w, 0}, {-4 - w/2, -9}, {-4 - w/2, 9}, {-4 - w/2, -15}, {-4 - w/2, 15}} {
				for _, at := range right {
					places[i] = append(places[i], [2]float64{at[0] + d[0], at[1] + d[1]})
				}
			}
		}
	}
	place := func(i int) {
		rt := &routes[i]
		best, crossed := -1, 0
		for k, at := range places[i] {
			if !placed.free(labelBox(rt.e.label, at)) {
				continue
			}
			// Counted up to the best place's count only: a place that
			// crosses as many is no better.
			limit := maxCrossed
			if best >= 0 {
				limit = crossed
			}
			if c := lines.crossed(i, inkBox(rt.e.label, at), limit); best < 0 || c < crossed {
				best, crossed = k, c
				if c == 0 {
					break
				}
			}
		}
		if best >= 0 {
			rt.labelPos = places[i][best]
		} else {
			rt.labelPos = placed.nearestFree(rt.e.label, places[i][0])
		}
		placed.add(labelBox(rt.e.label, rt.labelPos))
	}
	// The labels with one place (a self loop's) first: the others can
	// move out of their way.
	for pass := range 2 {
		for i := range routes {
			one := !slices.ContainsFunc(places[i], func(p [2]float64) bool { return p != places[i][0] })
			if routes[i].e.label != "" && one == (pass == 0) {
				place(i)
			}
		}
	}
}

// labelGrid holds the boxes placed so far, by where they are (cells), so
// that a label is checked against the boxes near it only: a diagram of
// thousands of steps has thousands of labels, a choose of n lines n
// labels in one band.
type labelGrid struct {
	boxes cells[[4]float64]
	minX  float64 // the left end of the leftmost box
	any   bool    // a box was placed
}

const labelBand = 32.0

// bandsOf lists the bands a box from y0 to y1 lies in.
func bandsOf(y0, y1 float64) (lo, hi int) {
	return int(math.Floor(y0 / labelBand)), int(math.Floor(y1 / labelBand))
}

func (g *labelGrid) add(b [4]float64) {
	if !g.any {
		g.minX, g.any = b[0], true
	}
	g.minX = math.Min(g.minX, b[0])
	g.boxes.add(b, b)
}

// free reports whether b overlaps no box placed.
func (g *labelGrid) free(b [4]float64) bool {
	return g.boxes.near(b, func(p [4]float64) bool {
		return !(b[0] < p[2] && p[0] < b[2] && b[1] < p[3] && p[1] < b[3])
	})
}

// nearestFree is the place nearest at on its row where label covers no
// box, right or left of it a glyph at a time. Left of every box placed is
// free (no box reaches out to the left without end), so the search ends.
func (g *labelGrid) nearestFree(label string, at [2]float64) [2]float64 {
	for d := 0.0; ; d += labelGlyph {
		for _, x := range []float64{at[0] + d, at[0] - d} {
			b := labelBox(label, [2]float64{x, at[1]})
			if g.free(b) || b[2] < g.minX {
				return [2]float64{x, at[1]}
			}
		}
	}
}

// lineGrid holds the edges' curves as short straight pieces, by where
// they are (cells), so that a label's place is checked for the edges near
// it only: the edges of a choose of hundreds of lines, or any wide rank,
// share its bands.
type lineGrid struct {
	lines cells[line]
	// mark[r] is the count of crossed that last counted route r: a route
	// is counted once per call in constant time, where the edges of a
	// wide choose all pass near its labels.
	mark  []int
	count int
}

type line struct {
	route int
	a, b  [2]float64
}

// maxCrossed is where the count of the edges a label's place crosses
// stops: a label across that many reads as badly as across more, and
// counting them all, where the edges of a choose of n lines cross its
// labels by the hundreds, would cost n² (docs/benchmarks.md).
const maxCrossed = 8

// curvePieces is how many straight pieces a curve is checked as: enough
// to follow it within a point or two between ranks.
const curvePieces = 8

func (g *lineGrid) addRoute(i int, rt route) {
	for len(g.mark) <= i {
		g.mark = append(g.mark, 0)
	}
	add := func(a, b [2]float64) {
		g.lines.add([4]float64{min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])}, line{i, a, b})
	}
	switch {
	case rt.rail:
		// Laid out after the labels; its turns are boxes of avoid.
	case rt.fall:
		// Its drops; its level stretches are boxes of avoid, its rail
		// left of every label.
		add(rt.pts[0], rt.pts[1])
		add(rt.pts[4], rt.pts[5])
	case rt.self:
		for k := 0; k+1 < len(rt.pts); k++ {
			add(rt.pts[k], rt.pts[k+1])
		}
	default:
		for k := 0; k+1 < len(rt.pts); k++ {
			q := curve(rt.pts[k], rt.pts[k+1])
			prev := q[0]
			for s := 1; s <= curvePieces; s++ {
				p := bezier(q, float64(s)/curvePieces)
				add(prev, p)
				prev = p
			}
		}
	}
}

// crossed counts the edges that pass through the label printed in ink, or
// near it, within a glyph's width: a label that close to an edge reads as
// that edge's. Its own edge counts when it passes through the print only:
// the label is placed by it. The count stops at limit.
func (g *lineGrid) crossed(route int, ink [4]float64, limit int) int {
	near := grow(ink, labelGlyph, 2)
	g.count++
	n := 0
	g.lines.near(near, func(l line) bool {
		b := near
		if l.route == route {
			b = ink
		}
		if g.mark[l.route] != g.count && crosses(l.a, l.b, b) {
			g.mark[l.route] = g.count
			n++
		}
		return n < limit
	})
	return n
}

// crosses reports whether the straight line from a to c passes through b.
func crosses(a, c [2]float64, b [4]float64) bool {
	// Clip the line to b's columns, then see whether what is left is
	// within its rows.
	t0, t1 := 0.0, 1.0
	dx, dy := c[0]-a[0], c[1]-a[1]
	for _, e := range [4]struct{ p, q float64 }{
		{-dx, a[0] - b[0]}, {dx, b[2] - a[0]}, {-dy, a[1] - b[1]}, {dy, b[3] - a[1]},
	} {
		if e.p == 0 {
			if e.q < 0 {
				return false
			}
			continue
		}
		r := e.q / e.p
		if e.p < 0 {
			t0 = math.Max(t0, r)
		} else {
			t1 = math.Min(t1, r)
		}
	}
	return t0 < t1
}

// labelBox is the box a label at at takes (its text sits right of at, on
// a baseline 3 points below: writeRoute), with a margin around it: two
// labels that only touch read as one ("errorerror"), and one that touches
// a box hides its border. The 10px glyphs reach 7.3 points above the
// baseline and 2.4 below it, their white halo (.fg-label) 1.5 further.
func labelBox(label string, at [2]float64) [4]float64 {
	return [4]float64{at[0] - labelGlyph, at[1] - 8, at[0] + textWidth(label, labelGlyph) + labelGlyph, at[1] + 9}
}

// grow is b with dx more on the left and right, dy above and below: a
// label a glyph's width from an edge reads as that edge's.
func grow(b [4]float64, dx, dy float64) [4]float64 {
	return [4]float64{b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy}
}

// inkBox is the box a label at at prints in: its glyphs and their halo.
func inkBox(label string, at [2]float64) [4]float64 {
	return [4]float64{at[0] - 2, at[1] - 6, at[0] + textWidth(label, labelGlyph) + 2, at[1] + 7}
}

// maxLabelPlaces is how many places along its edge a label is tried at,
// the preferred first (and as many beside each of them).
const maxLabelPlaces = 24

// labelTs are the other places along an edge between adjacent ranks that
// its label may take, nearer the middle first.
var labelTs = []float64{0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.15, 0.85}

// outFrom lists the integers from lo to hi, c first, then the nearer ones
// before the further, the lower of two as near first.
func outFrom(c, lo, hi int) []int {
	out := []int{c}
	for d := 1; c-d >= lo || c+d <= hi; d++ {
		if c-d >= lo {
			out = append(out, c-d)
		}
		if c+d <= hi {
			out = append(out, c+d)
		}
	}
	return out
}

// labelAt is where along an edge between two adjacent ranks its label
// sits: half way, unless several labelled edges leave its source (and
// not several enter its target), when it sits nearer the target, where
// those edges are further apart; and the other way round.
func labelAt(fanOut, fanIn bool) float64 {
	switch {
	case fanOut && !fanIn:
		return 0.7
	case fanIn && !fanOut:
		return 0.3
	}
	return 0.5
}

// labelPoint is the point of the curve pathData draws from a down to c at
// parameter t, moved right of it by the label's gap; the middle of an
// edge that goes up (which bulges) or across.
func labelPoint(a, c [2]float64, t float64) [2]float64 {
	if c[1] <= a[1] {
		return [2]float64{(a[0]+c[0])/2 + 4, (a[1] + c[1]) / 2}
	}
	p := bezier(curve(a, c), t)
	return [2]float64{p[0] + 4, p[1]}
}

// curve is the cubic an edge is drawn as from a to c (pathData), by its
// four control points: vertical tangents at both ends; an edge that goes
// up (a loop back) bulges to the right, so that it does not lie on the
// edge coming down between the same boxes.
func curve(a, c [2]float64) [4][2]float64 {
	dy := (c[1] - a[1]) / 2
	bulge := 0.0
	if dy < 0 {
		bulge = 36
	}
	return [4][2]float64{a, {a[0] + bulge, a[1] + dy}, {c[0] + bulge, c[1] - dy}, c}
}

// bezier is the point of the cubic p at parameter t.
func bezier(p [4][2]float64, t float64) [2]float64 {
	u := 1 - t
	w := [4]float64{u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t}
	var x, y float64
	for i := range p {
		x += w[i] * p[i][0]
		y += w[i] * p[i][1]
	}
	return [2]float64{x, y}
}
