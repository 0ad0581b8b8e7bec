// Package diag holds source positions and the diagnostics that every stage of
// flowgen reports: syntax errors from the parser, checks from the dsl, and
// JSON decoding errors. It is a leaf package so that parser and dsl share it
// without depending on each other the wrong way.
package diag

import (
	"bytes"
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/internal/snippet"
)

// Pos is a point in a source file. A .flow file has a line and column; a
// JSON definition has a JSON path instead (for example
// "flows[0].steps[2].rollback"), because decoders do not keep positions for
// every value.
type Pos struct {
	File   string `json:"file,omitempty"`
	Offset int    `json:"offset,omitempty"`
	Line   int    `json:"line,omitempty"`   // 1-based; 0 means unknown
	Column int    `json:"column,omitempty"` // 1-based, in bytes
	Path   string `json:"path,omitempty"`   // JSON path, for .json input
}

// LineColumn is where byte off (0-based, cut to 0..len(text)) of text
// sits: its line and column, both from 1, the column in bytes as Pos
// counts it. The one home of that count for a text read whole (a JSON
// document, a request body); the .flow scanner keeps it as it reads.
func LineColumn(text []byte, off int) (line, column int) {
	off = max(0, min(off, len(text)))
	before := text[:off]
	return 1 + bytes.Count(before, []byte("\n")), off - bytes.LastIndexByte(before, '\n')
}

// IsValid reports whether the position says anything about where.
func (p Pos) IsValid() bool { return p.Line > 0 || p.Path != "" }

// Compare orders positions by file, then line and column, then JSON
// path: -1 when p comes before q, 0 when equal, +1 after.
func (p Pos) Compare(q Pos) int {
	return cmp.Or(
		cmp.Compare(p.File, q.File),
		cmp.Compare(p.Line, q.Line),
		cmp.Compare(p.Column, q.Column),
		cmp.Compare(p.Path, q.Path),
	)
}

// String formats the position the way compilers do: file:line:col, or
// file:$.path for JSON input.
func (p Pos) String() string {
	file := p.File
	if file == "" {
		file = "-"
	}
	switch {
	case p.Line > 0:
		return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Column)
	case p.Path != "":
		return fmt.Sprintf("%s:%s", file, p.Path)
	default:
		return file
	}
}

// Range is a half-open span of source. End may be the zero Pos when only the
// start is known.
type Range struct {
	Start Pos `json:"start"`
	End   Pos `json:"end,omitzero"`
}

// Severity orders diagnostics by how much they matter.
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// MarshalText lets -json output say "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = Error
	case "warning":
		*s = Warning
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Diagnostic is one finding: what is wrong (Message), where (Range), and,
// when it helps, what to do about it (Hint).
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Range    Range    `json:"range"`
	Message  string   `json:"message"`
	Hint     string   `json:"hint,omitempty"`
	// Code names the check, so that users can look it up and tools can
	// filter ("unreachable", "no-rollback", ...).
	Code string `json:"code,omitempty"`
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Range.Start, d.Severity, d.Message)
}

// Error makes a single diagnostic usable as an error.
func (d Diagnostic) Error() string { return d.String() }

// Errorf builds an error diagnostic at r. Its %q verbs quote as Quote
// does, as those of Warnf and WithHint do.
func Errorf(r Range, code, format string, args ...any) Diagnostic {
	return Diagnostic{Severity: Error, Range: r, Code: code, Message: sprintf(format, args)}
}

// Warnf builds a warning diagnostic at r.
func Warnf(r Range, code, format string, args ...any) Diagnostic {
	return Diagnostic{Severity: Warning, Range: r, Code: code, Message: sprintf(format, args)}
}

// WithHint returns d with a hint saying how to fix it.
func (d Diagnostic) WithHint(format string, args ...any) Diagnostic {
	d.Hint = sprintf(format, args)
	return d
}

// QuoteBytes is how much of a text, most often a name the user wrote, a
// diagnostic quotes: more than the longest valid name (128 bytes,
// engine.MaxNameLen), so a name is cut only where it is too long to be
// valid, and a diagnostic about a name of 300 KB is not 300 KB long.
const QuoteBytes = 200

// Quote is s quoted for a diagnostic, as %q quotes it, cut to its first
// QuoteBytes bytes and "..." (snippet.Quote). Errorf, Warnf and WithHint
// quote every %q so; a message that quotes a name in a text of its own
// (fmt.Sprintf("step %q", name)) calls Quote.
func Quote(s string) string { return snippet.Quote(s, QuoteBytes) }

// Cut is s cut as Quote cuts it, unquoted: a name a diagnostic shows as
// code (`-> Step`, `state FlowState`).
func Cut(s string) string { return snippet.Cut(s, QuoteBytes) }

// Sprintf is fmt.Sprintf whose %q verbs quote as Quote does: for a text
// that a diagnostic's message or hint is built of.
func Sprintf(format string, args ...any) string { return sprintf(format, args) }

// sprintf is fmt.Sprintf with each string argument (a string or a
// fmt.Stringer) that a %q would quote past QuoteBytes quoted by Quote.
func sprintf(format string, args []any) string {
	var cut []any
	for i, a := range args {
		s, ok := "", false
		switch v := a.(type) {
		case error, fmt.Formatter:
		case fmt.Stringer:
			if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || !rv.IsNil() {
				s, ok = v.String(), true
			}
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
				s, ok = rv.String(), true
			}
		}
		if !ok || len(s) <= QuoteBytes {
			continue
		}
		if cut == nil {
			cut = slices.Clone(args)
		}
		cut[i] = quoted{a, s}
	}
	if cut == nil {
		return fmt.Sprintf(format, args...)
	}
	return fmt.Sprintf(format, cut...)
}

// quoted is an argument a (of text s) that %q quotes by Quote and other
// verbs show as they would a.
type quoted struct {
	a any
	s string
}

func (q quoted) Format(f fmt.State, verb rune) {
	if verb == 'q' && !f.Flag('#') && !f.Flag('+') {
		fmt.Fprint(f, Quote(q.s))
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), q.a)
}

// List is a set of diagnostics. The zero value is ready to use.
type List []Diagnostic

// MaxReported caps how many diagnostics Normalize keeps: after about ten,
// further errors are mostly consequences of the first ones (go/scanner does
// the same).
const MaxReported = 10

// HasErrors reports whether any diagnostic is an error.
func (l List) HasErrors() bool {
	return slices.ContainsFunc(l, func(d Diagnostic) bool { return d.Severity == Error })
}

// Errors returns only the error diagnostics.
func (l List) Errors() List {
	var out List
	for _, d := range l {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders diagnostics by file, then position, then severity and message,
// so output is deterministic whatever order the checks ran in.
func (l List) Sort() {
	slices.SortStableFunc(l, compare)
}

func compare(a, b Diagnostic) int {
	return cmp.Or(
		a.Range.Start.Compare(b.Range.Start),
		cmp.Compare(a.Severity, b.Severity),
		cmp.Compare(a.Message, b.Message),
	)
}

// Sorted is the list sorted, every diagnostic kept but exact repeats (the
// same position, severity and message): what tools read (`flowgen check
// -json`, the flow service's answers), where Normalize is what people read.
func (l List) Sorted() List {
	sorted := slices.Clone(l)
	sorted.Sort()
	return slices.CompactFunc(sorted, func(a, b Diagnostic) bool {
		return a.Range.Start == b.Range.Start && a.Severity == b.Severity && a.Message == b.Message
	})
}

// Normalize sorts the list, keeps one diagnostic per source line (the most
// severe, leftmost first, so that an error is never hidden behind a warning
// earlier on its line), and caps the list at
// max entries (0 means MaxReported; negative means no cap), errors kept
// before warnings. The returned
// count says how many were dropped by the cap, so callers can say "and N
// more".
func (l List) Normalize(limit int) (List, int) {
	if limit == 0 {
		limit = MaxReported
	}
	var out List
	for _, d := range l.Sorted() {
		if n := len(out); n > 0 {
			prev := out[n-1].Range.Start
			cur := d.Range.Start
			if prev.File == cur.File && prev.Line == cur.Line && cur.Line > 0 && prev.Path == cur.Path {
				if d.Severity < out[n-1].Severity {
					out[n-1] = d
				}
				continue
			}
			if cur.Line == 0 && prev.Line == 0 && prev.File == cur.File && prev.Path == cur.Path && out[n-1].Message == d.Message {
				continue
			}
		}
		out = append(out, d)
	}
	if limit < 0 {
		return out, 0
	}
	return out.Cap(limit)
}

// Cap returns at most limit entries of l, in l's order, the errors kept
// before the warnings (so that the cap never hides an error behind
// warnings earlier in the list), and how many it left out.
func (l List) Cap(limit int) (List, int) {
	if len(l) <= limit {
		return l, 0
	}
	return keepMostSevere(l, limit), len(l) - limit
}

// keepMostSevere returns limit entries of l, in l's order: the errors
// first, then warnings, so that the cap never hides an error (which makes
// the exit status 1) behind warnings earlier in the file.
func keepMostSevere(l List, limit int) List {
	keep := make([]bool, len(l))
	n := 0
	for _, sev := range []Severity{Error, Warning} {
		for i, d := range l {
			if n < limit && !keep[i] && (d.Severity == sev || sev == Warning) {
				keep[i] = true
				n++
			}
		}
	}
	out := make(List, 0, limit)
	for i, d := range l {
		if keep[i] {
			out = append(out, d)
		}
	}
	return out
}

// Err returns the list as an error when it holds errors, nil otherwise.
func (l List) Err() error {
	if !l.HasErrors() {
		return nil
	}
	return ListError(l)
}

// ListError is a List used as an error.
type ListError List

func (e ListError) Error() string {
	var b strings.Builder
	for i, d := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}
