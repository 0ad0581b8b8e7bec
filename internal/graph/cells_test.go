package graph

import (
	"math"
	"math/rand/v2"
	"testing"
)

// A look at a box finds every box kept that overlaps it, whatever their
// widths (a box that reaches out without end to the right included), and
// a wide box is kept in a few cells per band, not in each column.
func TestCellsNear(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	box := func() [4]float64 {
		x, y := r.Float64()*20000-5000, r.Float64()*400-100
		w := r.Float64() * 300
		if r.IntN(4) == 0 {
			w = r.Float64() * 20000
		}
		return [4]float64{x, y, x + w, y + r.Float64()*40}
	}
	var c cells[int]
	var kept [][4]float64
	for i := range 500 {
		b := box()
		if i == 0 {
			b[2] = math.Inf(1)
		}
		c.add(b, i)
		kept = append(kept, b)
	}
	for range 2000 {
		q := box()
		found := map[int]bool{}
		c.near(q, func(i int) bool { found[i] = true; return true })
		for i, b := range kept {
			if q[0] <= b[2] && b[0] <= q[2] && q[1] <= b[3] && b[1] <= q[3] && !found[i] {
				t.Fatalf("box %d %v overlaps %v and was not found", i, b, q)
			}
		}
	}
	entries := 0
	for _, bd := range c.bands {
		entries += len(bd.flat)
		for _, items := range bd.runs {
			entries += len(items)
		}
	}
	// 500 boxes of at most 3 bands, each in at most 2·log2(columns)+1
	// runs of a band (the infinite one: 2·30+1).
	if max := 500 * 3 * (2*8 + 1); entries > max+3*61 {
		t.Errorf("%d entries for 500 boxes, want at most %d", entries, max+3*61)
	}
}
