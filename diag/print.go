package diag

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sources gives the text of a file by the name diagnostics use, so the
// printer can quote the offending line. A missing file just means no quote.
type Sources func(file string) []byte

// ReadFiles is Sources that reads each file from disk: for the diagnostics
// of files the program did not keep, such as a service's flows directory.
// A file it cannot read (gone since) is not quoted.
func ReadFiles(file string) []byte {
	b, _ := os.ReadFile(file)
	return b
}

// Report prints l as flowgen check does: normalised (one diagnostic per
// source line, at most MaxReported, with a trailer saying how many more),
// each quoted from src. Every command that shows a user diagnostics calls
// it, so that check, serve and the Temporal service print them alike.
func Report(w io.Writer, l List, src Sources) error {
	list, dropped := l.Normalize(0)
	return Fprint(w, list, src, dropped)
}

// Fprint writes diagnostics the way users read compiler output:
//
//	signup.flow:12:5: error: undefined step "Activte"
//	    on ok -> Activte
//	             ^
//	  hint: did you mean "Activate"?
//
// dropped is the number of diagnostics cut by Normalize, reported as a
// trailer so the user knows the list is not complete.
func Fprint(w io.Writer, l List, src Sources, dropped int) error {
	var b bytes.Buffer
	for _, d := range l {
		fmt.Fprintf(&b, "%s\n", d)
		if src != nil && d.Range.Start.Line > 0 {
			if line, ok := sourceLine(src(d.Range.Start.File), d.Range.Start.Line); ok {
				quoteLine(&b, line, d.Range.Start.Column)
			}
		}
		if d.Hint != "" {
			fmt.Fprintf(&b, "  hint: %s\n", d.Hint)
		}
	}
	if dropped > 0 {
		fmt.Fprintf(&b, "too many diagnostics: %d more not shown\n", dropped)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func sourceLine(src []byte, line int) (string, bool) {
	if src == nil {
		return "", false
	}
	src = TrimBOM(src) // line 1 starts after it (TextStart)
	for i := 1; i < line; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return "", false
		}
		src = src[j+1:]
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return strings.TrimRight(string(src), "\r"), true
}

// quoteLine prints the source line indented and a caret under column col
// (a 1-based byte column). Tabs are kept in the caret's padding so the caret
// lines up in a terminal; control and invalid bytes are shown escaped so that
// a hostile file cannot reorder or hide the quoted text. A line too long to
// quote whole is cut after about quoteWidth bytes, with "…"; when the column
// is further along than that (JSON on one line), the quote starts
// quoteLead bytes before it, after a "…", so the caret is still under the
// text it points at.
func quoteLine(b *bytes.Buffer, line string, col int) {
	const quoteWidth, quoteLead = 160, 60
	var text, pad strings.Builder
	if len(line) > quoteWidth && col-1 > quoteWidth-quoteLead {
		start := min(col-1-quoteLead, len(line))
		for start < len(line) && !utf8.RuneStart(line[start]) {
			start++
		}
		line, col = line[start:], col-start
		text.WriteString("…")
		pad.WriteByte(' ')
	}
	caretAt := -1
	for i, r := range line {
		if i >= col-1 && caretAt < 0 {
			caretAt = text.Len()
		}
		// Escapes make the text longer than the line: the cut waits for
		// the caret, which is at most quoteLead bytes of the line in.
		if text.Len() >= quoteWidth && caretAt >= 0 {
			text.WriteString("…")
			break
		}
		shown := string(r)
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(line[i:], "\uFFFD"):
			shown = fmt.Sprintf(`\x%02x`, line[i])
		case r == '\t':
		case Hidden(r):
			shown = fmt.Sprintf(`\u%04x`, r)
		}
		text.WriteString(shown)
		if caretAt < 0 {
			if r == '\t' {
				pad.WriteByte('\t')
			} else {
				pad.WriteString(strings.Repeat(" ", Columns(shown)))
			}
		}
	}
	fmt.Fprintf(b, "    %s\n", text.String())
	fmt.Fprintf(b, "    %s^\n", pad.String())
}

// Hidden reports the characters a terminal acts on or hides rather than
// shows: control characters, C1 included (an ESC or CSI sequence can move
// the cursor or rewrite the lines above), and format characters
// (unicode.Cf: the bidirectional controls, which reorder what follows, and
// the zero-width ones, which hide that two names differ). A quoted line
// and a terminal table show them escaped.
func Hidden(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

// isBidi reports bidirectional control characters (the "Trojan Source"
// set), which can make displayed code differ from what is parsed.
func isBidi(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// IsBidi is exported for the lexer, which rejects these characters outright.
func IsBidi(r rune) bool { return isBidi(r) }

// LogWarnings writes each diagnostic of l, a service's loading of its
// flows that succeeded (its warnings: an error would have failed it), as
// one line of the service's structured log (Warn, the diagnostic's
// one-line text, and its hint as an attribute), where its other lines go: an operator's
// log collector reads them there, and a caret under a source line, which
// Report draws for a user at a terminal, would split one warning over
// lines the collector takes for several. A load that failed is Report's:
// its errors are why the service stops, printed as check prints them.
// flowgen serve and flowgen-temporal serve both report so.
func LogWarnings(log *slog.Logger, l List) {
	for _, d := range l {
		var attrs []any
		if d.Hint != "" {
			attrs = append(attrs, "hint", d.Hint) // String leaves it out
		}
		if d.Severity == Error {
			log.Error(d.String(), attrs...)
			continue
		}
		log.Warn(d.String(), attrs...)
	}
}
