package diag

import (
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFprintQuotesLineWithCaret(t *testing.T) {
	src := []byte("flow A {\n\tstep B { on ok -> Nope }\n}\n")
	d := Errorf(Range{Start: Pos{File: "a.flow", Line: 2, Column: 20}}, "undefined-target", "undefined step %q", "Nope").
		WithHint("did you mean %q?", "B")
	var b strings.Builder
	if err := Fprint(&b, List{d}, func(string) []byte { return src }, 2); err != nil {
		t.Fatal(err)
	}
	want := "a.flow:2:20: error: undefined step \"Nope\"\n" +
		"    \tstep B { on ok -> Nope }\n" +
		"    \t                  ^\n" + // the tab is kept so the caret lines up in a terminal
		"  hint: did you mean \"B\"?\n" +
		"too many diagnostics: 2 more not shown\n"
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// A hostile line cannot reorder or hide the quoted text: bidirectional
// controls, other control characters (C1 too) and zero-width characters
// are shown escaped, and the caret still points at the
// column (counted in bytes of the original line).
func TestFprintEscapesControls(t *testing.T) {
	src := []byte("x \u202e\x01\u200b\u009b y\n")
	d := Errorf(Range{Start: Pos{File: "a.flow", Line: 1, Column: 13}}, "", "bad")
	var b strings.Builder
	if err := Fprint(&b, List{d}, func(string) []byte { return src }, 0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if lines[1] != `    x \u202e\u0001\u200b\u009b y` {
		t.Errorf("quoted line = %q", lines[1])
	}
	if caret := strings.Index(lines[2], "^"); caret != strings.Index(lines[1], " y")+1 {
		t.Errorf("caret at %d under %q", caret, lines[1])
	}
}

// A leading byte order mark is not quoted: positions count from after it,
// so the caret under column 6 of line 1 is under the sixth character shown.
func TestFprintSkipsLeadingBOM(t *testing.T) {
	src := []byte("\uFEFFflow Bad {\n}\n")
	d := Errorf(Range{Start: Pos{File: "a.flow", Line: 1, Column: 6}}, "", "bad")
	var b strings.Builder
	if err := Fprint(&b, List{d}, func(string) []byte { return src }, 0); err != nil {
		t.Fatal(err)
	}
	want := "a.flow:1:6: error: bad\n" +
		"    flow Bad {\n" +
		"         ^\n"
	if got := b.String(); got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"CreateCustomer", "CreateSubscription", "done", "fail"}
	for name, want := range map[string]string{
		"CreateSubscriptoin": "CreateSubscription", // adjacent swap is one edit
		"createcustomer":     "CreateCustomer",     // case alone always matches
		"Nope":               "",                   // short names tolerate one edit only
		"dne":                "done",
		"Unrelated":          "",
	} {
		if got := DidYouMean(name, cands); got != want {
			t.Errorf("DidYouMean(%q) = %q, want %q", name, got, want)
		}
	}
	// The edit limits docs/checks.md gives ("Did you mean"): at most 1
	// edit for names up to 4 characters, 2 up to 8, 3 beyond.
	for name, want := range map[string]string{
		"dxne":      "done", // 4 characters, 1 edit
		"dxnx":      "",     // 4 characters, 2 edits
		"donxx":     "done", // 5 characters, 2 edits
		"Actxvxte":  "Activate",
		"Axtivxtx":  "",          // 8 characters, 3 edits
		"Rxconxilx": "Reconcile", // 9 characters, 3 edits
	} {
		if got := DidYouMean(name, []string{"done", "Activate", "Reconcile"}); got != want {
			t.Errorf("DidYouMean(%q) = %q, want %q", name, got, want)
		}
	}
	// A name cut short at a word boundary of one candidate suggests it;
	// a cut inside a word, a short name or several candidates do not.
	fields := []string{"CoolingOffEnds", "Customer", "PlanID", "RetryAttempts", "RetryCount", "Items", "ItemsTotal"}
	for name, want := range map[string]string{
		"CoolingOff":    "CoolingOffEnds",
		"Cooling":       "CoolingOffEnds",
		"Cool":          "", // inside a word
		"Plan":          "PlanID",
		"Retry":         "",      // RetryAt or RetryCount: no guess
		"Item":          "Items", // a typo of Items (one edit) before any prefix
		"Items":         "",      // a name that is a candidate is not cut short
		"Cust":          "",      // inside a word
		"CoolingOffEnd": "CoolingOffEnds",
	} {
		if got := DidYouMean(name, fields); got != want {
			t.Errorf("DidYouMean(%q, fields) = %q, want %q", name, got, want)
		}
	}
	// A cut inside a word counts once the name holds a whole word before
	// it (RefundReq, 4 edits from RefundRequest); a single word cut inside
	// still does not, nor a cut that begins several candidates.
	fields = []string{"RefundRequest", "RefundReason", "Customer", "CustomerAddress", "refund_request", "URLPath", "ID", "OrderNumber", "OrderNotes"}
	for name, want := range map[string]string{
		"RefundReq":    "RefundRequest",
		"RefundRequ":   "RefundRequest",
		"RefundRe":     "", // RefundRequest or RefundReason
		"refund_req":   "refund_request",
		"URLPa":        "URLPath",
		"CustomerAddr": "CustomerAddress",
		"Cust":         "", // one word, cut inside
		"Custo":        "", // one word, cut inside
		"OrderNu":      "OrderNumber",
		"OrderN":       "", // OrderNumber or OrderNotes
		"_req":         "",
		"Refunds":      "", // not a prefix of any, 6 edits from the nearest
	} {
		if got := DidYouMean(name, fields); got != want {
			t.Errorf("DidYouMean(%q, cut fields) = %q, want %q", name, got, want)
		}
	}
	if got := Closest("retries", []string{"retry", "timeout"}, 3); got != "retry" {
		t.Errorf("Closest(retries) = %q", got)
	}
	// An empty name (a JSON "target": "") is no typo: nothing was typed,
	// though a one-letter candidate is one edit away.
	if got := DidYouMean("", []string{"N", "U", "done"}); got != "" {
		t.Errorf(`DidYouMean("") = %q, want none`, got)
	}
	if got := Closest("", []string{"N"}, 3); got != "" {
		t.Errorf(`Closest("") = %q, want none`, got)
	}
}

// A diagnostic quotes (%q) a text, a name of 300 KB, cut at QuoteBytes;
// a shorter one whole, and other verbs as they are.
func TestDiagnosticsQuoteCut(t *testing.T) {
	long := "S" + strings.Repeat("x", 300000)
	d := Errorf(Range{}, "c", "step %q and %d", long, 3).WithHint("rename %q", Ident(long))
	if want := Quote(long) + " and 3"; d.Message != "step "+want || len(d.Message) > QuoteBytes+50 {
		t.Errorf("message of %d bytes: %.300s", len(d.Message), d.Message)
	}
	if !strings.HasSuffix(d.Hint, `xxx"...`) || len(d.Hint) > QuoteBytes+50 {
		t.Errorf("hint of %d bytes: %.300s", len(d.Hint), d.Hint)
	}
	if d := Warnf(Range{}, "c", "%q %s %v", "short", "s", 1); d.Message != `"short" s 1` {
		t.Errorf("short: %s", d.Message)
	}
	if d := Warnf(Range{}, "c", "%s", long); d.Message != long {
		t.Errorf("%%s of a long text: cut to %d bytes", len(d.Message))
	}
	if got := Quote(strings.Repeat("n", 128)); got != `"`+strings.Repeat("n", 128)+`"` {
		t.Errorf("a name of 128 bytes quoted %s", got)
	}
}

type Ident string

func (i Ident) String() string { return string(i) }

// A line too long to quote whole (JSON on one line, as jq -c writes it) is
// quoted around the column: the caret is under the character it points at,
// however far along the line, and the quote stays short.
func TestFprintQuotesLongLineAroundColumn(t *testing.T) {
	line := strings.Repeat(`{"a": 1}, `, 3000) + "BAD" + strings.Repeat(`, {"b": 2}`, 3000)
	col := strings.Index(line, "BAD") + 1
	d := Errorf(Range{Start: Pos{File: "a.json", Line: 1, Column: col}}, "", "bad")
	var b strings.Builder
	if err := Fprint(&b, List{d}, func(string) []byte { return []byte(line + "\n") }, 0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	quote, caret := []rune(lines[1]), strings.Index(lines[2], "^")
	if caret < 0 || caret >= len(quote) || !strings.HasPrefix(string(quote[caret:]), "BAD") {
		t.Fatalf("caret at %d not under BAD:\n%s\n%s", caret, lines[1], lines[2])
	}
	if !strings.HasPrefix(lines[1], "    …") || !strings.HasSuffix(lines[1], "…") || len(lines[1]) > 200 {
		t.Errorf("quote of %d bytes, want the text around the column between two …: %s", len(lines[1]), lines[1])
	}
	// Near its start, a long line is quoted from there, as before.
	d.Range.Start.Column = 12
	b.Reset()
	if err := Fprint(&b, List{d}, func(string) []byte { return []byte(line + "\n") }, 0); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(b.String(), "\n"); !strings.HasPrefix(lines[1], `    {"a": 1}, {"a": 1}`) || lines[2] != "               ^" {
		t.Errorf("quoted:\n%s\n%s", lines[1], lines[2])
	}
}

// A column past the end of a long line (a diagnostic of another version of
// the file) quotes the line's end and puts the caret after it.
func TestFprintColumnPastLongLine(t *testing.T) {
	line := strings.Repeat("x", 500)
	for _, col := range []int{501, 502, 10000} {
		d := Errorf(Range{Start: Pos{File: "a.flow", Line: 1, Column: col}}, "", "bad")
		var b strings.Builder
		if err := Fprint(&b, List{d}, func(string) []byte { return []byte(line) }, 0); err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(b.String(), "\n"); len(lines[1]) > 200 || !strings.HasSuffix(lines[2], "^") {
			t.Errorf("column %d:\n%s", col, b.String())
		}
	}
}

// FuzzFprint: for any source and position, Fprint does not panic and
// quotes at most one line, cut to a bounded length, as UTF-8 with no
// control character but tabs, with a caret under a character of it or
// just after it.
//
//	go test ./diag -run '^$' -fuzz FuzzFprint -fuzztime 3m
func FuzzFprint(f *testing.F) {
	f.Add([]byte("flow A {\n\tstep B { on ok -> Nope }\n}\n"), 2, 20)
	f.Add([]byte(strings.Repeat(`{"a": 1}, `, 100)), 1, 700)
	f.Add([]byte(strings.Repeat("x", 500)), 1, 10000)
	f.Add([]byte("\uFEFFx \u202e\x01 y\xff\r\n"), 1, 4)
	f.Fuzz(func(t *testing.T, src []byte, line, col int) {
		d := Errorf(Range{Start: Pos{File: "a.flow", Line: line, Column: col}}, "", "bad")
		var b strings.Builder
		if err := Fprint(&b, List{d}, func(string) []byte { return src }, 0); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(lines) == 1 {
			return // no such line to quote
		}
		if len(lines) != 3 {
			t.Fatalf("want the message, a quote and a caret, got %q", lines)
		}
		quote, caret := lines[1], lines[2]
		if !utf8.ValidString(quote) || len(quote) > 1000 {
			t.Errorf("quote of %d bytes: %q", len(quote), quote)
		}
		for _, r := range quote {
			if r != '\t' && Hidden(r) {
				t.Errorf("quote holds %U: %q", r, quote)
			}
		}
		if !strings.HasSuffix(caret, "^") || strings.TrimLeft(caret[:len(caret)-1], " \t") != "" ||
			Columns(caret)-1 > Columns(quote) { // on screen: a wide character pads two
			t.Errorf("caret %q under %q", caret, quote)
		}
	})
}

// A terminal gives a wide character (CJK, fullwidth forms) two columns
// and a combining mark none: the caret's padding does too, so the caret
// is under the column it names after a line of Japanese or an accent
// written as a combining mark.
func TestFprintCaretAfterWideCharacters(t *testing.T) {
	src := []byte("    rpc p \"日本.Pay\" (Ｘ) e\u0301 x\n")
	at := strings.Index(string(src), " x") + 2 // the byte column of x
	d := Errorf(Range{Start: Pos{File: "a.flow", Line: 1, Column: at}}, "", "bad")
	var b strings.Builder
	if err := Fprint(&b, List{d}, func(string) []byte { return src }, 0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	// Before x: `    rpc p "` (11 columns), 日本 (4), `.Pay" (` (7), Ｘ
	// (2), `) e` (3), the combining acute (0), " " (1).
	want := "    " + strings.Repeat(" ", 11+4+7+2+3+0+1) + "^"
	if lines[2] != want {
		t.Errorf("caret line %q, want %q (under %q)", lines[2], want, lines[1])
	}
}

// LogWarnings writes each diagnostic as one line of a structured log, its
// hint an attribute (Diagnostic.String leaves the hint out).
func TestLogWarnings(t *testing.T) {
	var b strings.Builder
	log := slog.New(slog.NewTextHandler(&b, nil))
	LogWarnings(log, List{
		Warnf(Range{Start: Pos{File: "w.json", Line: 2, Column: 3}}, "unreachable", "step %q is unreachable", "B").WithHint("add a transition to it"),
		Warnf(Range{Start: Pos{File: "w.json", Line: 5, Column: 1}}, "no-provider", "no provider serves %q yet", "C"),
	})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], `step \"B\" is unreachable`) ||
		!strings.Contains(lines[0], `hint="add a transition to it"`) || strings.Contains(lines[1], "hint=") {
		t.Fatalf("LogWarnings wrote:\n%s", b.String())
	}
}
