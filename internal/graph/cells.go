package graph

import (
	"math"
	"math/bits"
)

// cells keeps items by the region of the diagram they cover, so that a
// look at a small box finds the items near it only: by band, labelBand
// points high, and by column, cellWidth points wide. A wide item is kept
// in the aligned runs of 1, 2, 4, … columns (each starting at a multiple
// of its length, as a segment tree's) that cover its columns, a few per
// band, not in each column: the n edges of a choose of n lines each cross
// most of its n columns, n² entries that way (1.4 million for 1,000
// lines). Its n labels lie in one band, n boxes for each look at the band
// if kept by band alone (docs/benchmarks.md).
type cells[T any] struct {
	items  map[runCell][]T
	levels uint64 // bit l set: items has runs of 1<<l columns
}

// runCell is a cell of cells: its band and its run of 1<<level columns,
// from column run<<level.
type runCell struct{ band, level, run int }

const cellWidth = 128.0

// maxColumn bounds the columns of a box: one that reaches out without end
// (an abort edge's turn, to the right) ends there, as wide as any diagram.
const maxColumn = 1 << 30

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
	if c.items == nil {
		c.items = map[runCell][]T{}
	}
	lo, hi, left, right := span(b)
	for k := lo; k <= hi; k++ {
		for col := left; col <= right; {
			level := 0 // the longest aligned run from col within right
			for col&(1<<(level+1)-1) == 0 && col+1<<(level+1)-1 <= right {
				level++
			}
			at := runCell{k, level, col >> level}
			c.items[at] = append(c.items[at], item)
			c.levels |= 1 << level
			col += 1 << level
		}
	}
}

// near calls yield with the items kept in the cells of box b (an item in
// several of them once for each), until it returns false; near reports
// whether it went through them all.
func (c *cells[T]) near(b [4]float64, yield func(T) bool) bool {
	lo, hi, left, right := span(b)
	for k := lo; k <= hi; k++ {
		for m := c.levels; m != 0; m &= m - 1 {
			level := bits.TrailingZeros64(m)
			for run := left >> level; run <= right>>level; run++ {
				for _, item := range c.items[runCell{k, level, run}] {
					if !yield(item) {
						return false
					}
				}
			}
		}
	}
	return true
}
