package demo

import (
	"fmt"
	"io"
	"strings"

	"github.com/flowgen/flowgen/runtime"
)

// Columns lays out the lines of a history, one a transition: the source
// state padded to From characters, the target state, the outcome of the
// step attempt that caused it in brackets, and the first line of its
// error. An example that prints as its runs go fixes the columns for its
// flow's longest states; one that prints a history after the run fits
// them to it (Fit).
type Columns struct {
	From int
	// Outcome is the width the line is padded to before its outcome;
	// 0 puts the outcome two spaces after the target state.
	Outcome int
}

// Line is the line of transition e.
func (c Columns) Line(e runtime.Event) string {
	line := fmt.Sprintf("  %-*s -> %s", c.From, e.From, e.To)
	switch {
	case e.Outcome == "":
	case c.Outcome == 0:
		line += "  [" + e.Outcome + "]"
	default:
		line = fmt.Sprintf("%-*s [%s]", c.Outcome, line, e.Outcome)
	}
	if e.Error != "" {
		line += "  " + FirstLine(e.Error)
	}
	return line
}

// Fit returns the columns of history: its source states as wide as the
// widest, each outcome right after its target state.
func Fit(history []runtime.Event) Columns {
	width := 0
	for _, e := range history {
		width = max(width, len(e.From))
	}
	return Columns{From: width}
}

// PrintHistory prints history, a line a transition, in the columns that
// fit it.
func PrintHistory(w io.Writer, history []runtime.Event) {
	cols := Fit(history)
	for _, e := range history {
		fmt.Fprintln(w, cols.Line(e))
	}
}

// Ended prints how a run ended: "  => final", and the first line of its
// error in parentheses. The example goes on with what the run did.
func Ended[S any](w io.Writer, res runtime.Result[S]) {
	fmt.Fprintf(w, "  => %s", res.Final)
	if res.Err != nil {
		fmt.Fprintf(w, " (%v)", FirstLine(res.Err.Error()))
	}
}

// FirstLine is s up to its first newline: an error's first line is what
// a history line has room for.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
