package flowfile

import (
	"slices"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/parser"
)

// Parse reads a .flow file into its model without checking it:
// parser.Parse, then Build unless the syntax has errors (the model is then
// nil). Load is Parse and dsl.Check.
func Parse(filename string, src []byte) (*dsl.File, diag.List) {
	ast, ds := parser.Parse(filename, src)
	if ds.HasErrors() {
		return nil, ds
	}
	f, bds := Build(ast)
	return f, append(ds, bds...)
}

// Load reads one source: the JSON form when filename ends in ".json"
// (dsl.LoadJSON), a .flow file otherwise (parser.Parse then Build), and
// runs dsl.Check on the model. It returns every diagnostic unsorted; the
// caller normalises (sorts, keeps one per line, caps) before printing.
//
// Syntax errors (and JSON decoding errors) stop before Check: the model is
// then partial or empty, and checking it would report consequences (a
// target "undefined" only because its step failed to parse) as if they
// were mistakes. Build's errors (a bad duration, a duplicate statement)
// leave a complete model, so Check still runs after them; but a bad value
// is left zero, and what Check says of a zero (a sleep that waits no
// time) is the consequence: on a line where Build reported an error,
// Check's findings are dropped, so the cause is the one line's report.
//
// The returned File is nil only when nothing could be read; callers must
// not generate code when the list has errors.
func Load(filename string, src []byte, opts dsl.CheckOptions) (*dsl.File, diag.List) {
	if dsl.IsJSONFile(filename) {
		return dsl.LoadJSON(filename, src, opts)
	}
	f, ds := Parse(filename, src)
	if f == nil {
		return nil, ds
	}
	// ds is Build's errors: a syntax error returned above, and the parser
	// reports nothing else.
	cds := dsl.Check(f, opts)
	if len(ds) > 0 {
		type line struct {
			file string
			n    int
		}
		bad := make(map[line]bool, len(ds))
		for _, d := range ds {
			bad[line{d.Range.Start.File, d.Range.Start.Line}] = true
		}
		cds = slices.DeleteFunc(cds, func(d diag.Diagnostic) bool {
			return d.Range.Start.Line > 0 && bad[line{d.Range.Start.File, d.Range.Start.Line}]
		})
	}
	return f, append(ds, cds...)
}
