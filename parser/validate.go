package parser

import (
	"fmt"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/flowgen/flowgen/diag"
)

// MaxFileSize is the largest source Parse accepts. A flow of 10,000 steps is
// about 1.5 MB; anything past this is a mistake (a wrong file, generated
// garbage) and would only make the tools slow.
const MaxFileSize = 8 << 20

// TextProblem is why text s could not stand as it is in a .flow file (a
// doc comment's line, which a comment holds as written), validate's first
// offence: a control character other than a tab or a line break, a
// bidirectional control character, a byte that is not UTF-8; "" when s
// could.
func TextProblem(s string) string {
	if ds := validate("", []byte(s), 0); len(ds) > 0 {
		return ds[0].Message
	}
	return ""
}

// validate rejects, before lexing, sources that are not text a person could
// review: too large, not UTF-8, with NUL or other control bytes, or with
// bidirectional control characters that make the displayed text differ from
// what is parsed ("Trojan Source"). It reports the first offence of each
// kind, positioned, so that a binary file gives a few lines and not
// thousands. The text starts at offset start (diag.TextStart).
func validate(filename string, src []byte, start int) diag.List {
	if len(src) > MaxFileSize {
		d := diag.Errorf(diag.Range{Start: diag.Pos{File: filename, Line: 1, Column: 1}}, "syntax",
			"file too large: %d bytes, the limit is %d MiB", len(src), MaxFileSize>>20)
		return diag.List{d.WithHint("split the flows into several files")}
	}
	var (
		out       diag.List
		seen      = map[string]bool{}
		line      = 1
		lineStart = start
	)
	report := func(kind string, off int, hint, format string, args ...any) {
		if seen[kind] {
			return
		}
		seen[kind] = true
		p := lexer.Position{Filename: filename, Offset: off, Line: line, Column: off - lineStart + 1}
		out = append(out, diag.Errorf(rangeAt(p), "syntax", format, args...).WithHint("%s", hint))
	}
	for i := start; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n':
				line++
				lineStart = i + 1
			case c == '\t':
			case c == '\r':
				if i+1 >= len(src) || src[i+1] != '\n' {
					report("cr", i, "end lines with \\n or \\r\\n", "carriage return not followed by a newline")
				}
			case c == 0:
				report("nul", i, ".flow files are UTF-8 text; is this a binary file?", "unexpected NUL byte")
			case c < 0x20 || c == 0x7f:
				report("ctl", i, "remove it; only tabs and newlines may appear as control characters",
					"unexpected control character %s", fmt.Sprintf("U+%04X", c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			report("utf8", i, "save the file as UTF-8", "invalid UTF-8 encoding")
		case diag.IsBidi(r):
			report("bidi", i, "remove it: it makes the text display in a different order than it is read",
				"bidirectional control character %s", fmt.Sprintf("U+%04X", r))
		}
		i += size
	}
	return out
}
