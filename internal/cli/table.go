package cli

import (
	"bytes"
	"io"
	"strings"

	"github.com/flowgen/flowgen/diag"
)

// table aligns the columns of tab-separated lines, as text/tabwriter does
// with two spaces of padding, but measures a cell in the columns a
// terminal gives it (diag.Columns), not in runes: a flow or a run named in
// CJK or with an emoji pushed every column after it out of line. Like
// tabwriter, a column is aligned over the adjacent lines that have it (a
// cell ended by a tab; what follows a line's last tab is not aligned), and
// the padding at the end of lines is dropped.
type table struct {
	buf bytes.Buffer
	out io.Writer
}

// tablePadding is the spaces after a column's widest cell.
const tablePadding = 2

func newTable(out io.Writer) *table { return &table{out: out} }

func (t *table) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush writes the lines written since the last Flush, their columns
// aligned.
func (t *table) Flush() {
	var rows [][]string
	for line := range strings.Lines(t.buf.String()) {
		rows = append(rows, strings.Split(strings.TrimSuffix(line, "\n"), "\t"))
	}
	t.buf.Reset()
	// widths[i][j] is the width column j of row i is padded to: the widest
	// cell j of the block of adjacent rows that have a column j.
	widths := make([][]int, len(rows))
	for i, r := range rows {
		widths[i] = make([]int, len(r)-1)
	}
	for j := 0; ; j++ {
		found := false
		for i := 0; i < len(rows); {
			if len(rows[i])-1 <= j {
				i++
				continue
			}
			found = true
			end, w := i, 0
			for ; end < len(rows) && len(rows[end])-1 > j; end++ {
				w = max(w, diag.Columns(rows[end][j]))
			}
			for ; i < end; i++ {
				widths[i][j] = w
			}
		}
		if !found {
			break
		}
	}
	var b strings.Builder
	for i, r := range rows {
		b.Reset()
		for j, cell := range r {
			b.WriteString(cell)
			if j < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i][j]-diag.Columns(cell)+tablePadding))
			}
		}
		io.WriteString(t.out, strings.TrimRight(b.String(), " ")+"\n")
	}
}
