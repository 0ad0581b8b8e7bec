package graph

import (
	"math"
	"math/bits"
)

// cells keeps items by the region of the diagram they cover, so that a
// look at a small box finds the items near it only: by band, labelBand
// points high, and in a band that holds many, by column, cellWidth points
// wide. There a wide item is kept in the aligned runs of 1, 2, 4, …
// columns (each starting at a multiple of its length, as a segment
// tree's) that cover its columns, a few per band, not in each column: the
// n edges of a choose of n lines each cross most of its n columns, n²
// entries that way (1.4 million for 1,000 lines). Its n labels lie in one
// band, n boxes for each look at the band if kept by band alone
// (docs/benchmarks.md). A band of few items (most bands: a long flow has
// a few edges and labels a band) keeps them in a list, which is quicker
// to look through than the runs of columns.
type cells[T any] struct {
	bands map[int]*band[T]
}

// band is one band of cells: a list of its items while it has at most
// flatMax, then its items by run of columns.
type band[T any] struct {
	flat []flatItem[T]
	runs map[uint64][]T // by runKey
	// levels has bit l set when runs holds runs of 1<<l columns: a look
	// goes through those levels only.
	levels uint64
}

// flatItem is an item of a band's list with its first and last columns.
type flatItem[T any] struct {
	left, right int
	item        T
}

// flatMax is how many items a band holds in a list.
const flatMax = 64

const cellWidth = 128.0

// maxColumn bounds the columns of a box: one that reaches out without end
// (an abort edge's turn, to the right) ends there, as wide as any diagram.
const maxColumn = 1 << 30

// runKey is the key of the run of 1<<level columns from column run<<level
// (within ±maxColumn): one number is a faster key of a map than a struct.
func runKey(level, run int) uint64 {
	return uint64(level)<<32 | uint64(uint32(int32(run)))
}

// span is the bands and the columns of the box b: left, top, right,
// bottom.
func span(b [4]float64) (lo, hi, left, right int) {
	column := func(x float64) int {
		return int(math.Floor(math.Max(-maxColumn, math.Min(maxColumn, x/cellWidth))))
	}
	lo, hi = bandsOf(b[1], b[3])
	return lo, hi, column(b[0]), column(b[2])
}

// add keeps item in the cells of box b.
func (c *cells[T]) add(b [4]float64, item T) {
	if c.bands == nil {
		c.bands = map[int]*band[T]{}
	}
	lo, hi, left, right := span(b)
	for k := lo; k <= hi; k++ {
		bd := c.bands[k]
		if bd == nil {
			bd = &band[T]{}
			c.bands[k] = bd
		}
		if bd.runs != nil {
			bd.addRuns(left, right, item)
			continue
		}
		bd.flat = append(bd.flat, flatItem[T]{left, right, item})
		if len(bd.flat) > flatMax {
			bd.runs = map[uint64][]T{}
			for _, f := range bd.flat {
				bd.addRuns(f.left, f.right, f.item)
			}
			bd.flat = nil
		}
	}
}

// addRuns keeps item in the runs that cover the columns from left to
// right.
func (bd *band[T]) addRuns(left, right int, item T) {
	for col := left; col <= right; {
		level := 0 // the longest aligned run from col within right
		for col&(1<<(level+1)-1) == 0 && col+1<<(level+1)-1 <= right {
			level++
		}
		at := runKey(level, col>>level)
		bd.runs[at] = append(bd.runs[at], item)
		bd.levels |= 1 << level
		col += 1 << level
	}
}

// near calls yield with the items kept in the cells of box b (an item
// possibly more than once), until it returns false; near reports whether
// it went through them all.
func (c *cells[T]) near(b [4]float64, yield func(T) bool) bool {
	lo, hi, left, right := span(b)
	for k := lo; k <= hi; k++ {
		bd := c.bands[k]
		if bd == nil {
			continue
		}
		for _, f := range bd.flat {
			if f.left <= right && left <= f.right && !yield(f.item) {
				return false
			}
		}
		for m := bd.levels; m != 0; m &= m - 1 {
			level := bits.TrailingZeros64(m)
			for run := left >> level; run <= right>>level; run++ {
				for _, item := range bd.runs[runKey(level, run)] {
					if !yield(item) {
						return false
					}
				}
			}
		}
	}
	return true
}
