package parser

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// Token types of the .flow lexer. The lexer is hand written rather than a
// participle regexp lexer: it is several times faster, it counts columns in
// bytes as diag.Pos does, and it can say precisely what is wrong with a bad
// string or character.
const (
	tokIdent lexer.TokenType = iota + 1
	tokString
	tokDuration
	tokNumber
	tokPunct
	tokComment
	// tokInvalid stands where the lexer found an error; no grammar rule
	// matches it, so the parser stops there at the latest.
	tokInvalid
)

var symbols = map[string]lexer.TokenType{
	"EOF":      lexer.EOF,
	"Ident":    tokIdent,
	"String":   tokString,
	"Duration": tokDuration,
	"Number":   tokNumber,
	"Punct":    tokPunct,
	"Comment":  tokComment,
}

// flowLexer is the participle lexer.Definition of .flow files. Parse does
// not go through it (it scans once and hands participle the tokens), but
// participle needs a Definition to know the token names the grammar uses.
type flowLexer struct{}

func (flowLexer) Symbols() map[string]lexer.TokenType { return symbols }

func (flowLexer) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s := scan(filename, string(src), diag.TextStart(src))
	if s.err != nil {
		return nil, s.err
	}
	return &tokenStream{toks: s.toks}, nil
}

// tokenStream replays already scanned tokens to participle.
type tokenStream struct {
	toks []lexer.Token
	i    int
}

func (s *tokenStream) Next() (lexer.Token, error) {
	t := s.toks[s.i]
	if s.i < len(s.toks)-1 { // the last token is EOF; keep returning it
		s.i++
	}
	return t, nil
}

// scanned is the result of scanning a source.
type scanned struct {
	toks []lexer.Token // significant tokens, ending with EOF
	// blank[i] reports whether a blank line separates toks[i] from the
	// token or comment before it.
	blank    []bool
	comments []*Comment
	// err is the first lexical error. Scanning stops there, with a
	// tokInvalid token at errAt (the start of the bad token) and EOF.
	err   *diag.Diagnostic
	errAt int
}

// scanner state.
type scanner struct {
	file      string
	src       string
	off       int
	line      int
	lineStart int
	lastLine  int // line of the last token or comment; 0 before the first
	parens    int // parentheses open
	// inCond is true from a "when" to its "->": the condition of a
	// choose line, where a field may be followed by its members.
	inCond bool
	out    scanned
}

// MaxParens bounds the nesting of parentheses in a condition, so that the
// parser's recursion and the condition's JSON form (which nests a few
// levels per parenthesis, within the JSON reader's depth bound) stay
// small. Real conditions need two or three.
const MaxParens = 8

// comparisonOps are the comparison operators a condition may use.
var comparisonOps = []string{"==", "!=", "<=", ">=", "<", ">"}

// comparison scans a comparison operator at start.
func (s *scanner) comparison(start int) {
	for _, op := range comparisonOps {
		if strings.HasPrefix(s.src[start:], op) {
			s.off += len(op)
			s.emit(tokPunct, start)
			return
		}
	}
	hint := "conditions compare with ==, !=, <, <=, > or >="
	switch rest := s.src[start:]; {
	case strings.HasPrefix(rest, "=>") && s.inCond && comparedValueNext(rest[len("=>"):]):
		hint = "greater than or equal is written >="
	case strings.HasPrefix(rest, "=>"):
		// on ok => Done, rpc ... (X) => Y, when X > 5 => Done: an arrow.
		hint = "the arrow is written ->"
	case strings.HasPrefix(rest, "=<"):
		hint = "less than or equal is written <="
	case rest[0] == '=' && !s.inCond:
		// retry = 3, timeout=5s: a setting written as in a config file.
		hint = "a statement takes its value without =: retry 3, timeout 5s"
	case rest[0] == '=':
		hint = "equality is written =="
	case rest[0] == '!':
		hint = "negation is written not: when not Express -> Ship"
	}
	s.fail(start, hint, "unexpected character %s", quoteRune(rune(s.src[start])))
}

// comparedValueNext reports whether rest, after blanks, starts with what
// a condition compares with (a number, a string, true or false) rather
// than a target: after "X =>", it tells ">=" from "->".
func comparedValueNext(rest string) bool {
	rest = strings.TrimLeft(rest, " \t")
	if rest == "" {
		return false
	}
	if c := rest[0]; isDigit(c) || c == '-' || c == '"' {
		return true
	}
	for _, w := range []string{"true", "false"} {
		if after, ok := strings.CutPrefix(rest, w); ok && (after == "" || !ident.Part(after[0])) {
			return true
		}
	}
	return false
}

// afterComparedNumber reports whether the token that ends at off is the
// number a condition compares with (Total > 1.).
func (s *scanner) afterComparedNumber(off int) bool {
	n := len(s.out.toks)
	if n < 2 {
		return false
	}
	t := s.out.toks
	return t[n-1].Type == tokNumber && t[n-1].Pos.Offset+len(t[n-1].Value) == off &&
		t[n-2].Type == tokPunct && slices.Contains(comparisonOps, t[n-2].Value)
}

// afterExponent reports whether the token that ends at off is a number
// followed by an exponent's e (1e, 2.5E), the start of 1e-3.
func (s *scanner) afterExponent(off int) bool {
	n := len(s.out.toks)
	if n == 0 {
		return false
	}
	t := s.out.toks[n-1]
	v := strings.TrimRight(t.Value, "eE")
	return t.Type == tokDuration && t.Pos.Offset+len(t.Value) == off && len(v) == len(t.Value)-1 &&
		strings.Trim(v, "0123456789.") == "" && v != ""
}

// afterComparison reports whether the last token scanned is a comparison
// operator.
func (s *scanner) afterComparison() bool {
	n := len(s.out.toks)
	return n > 0 && s.out.toks[n-1].Type == tokPunct && slices.Contains(comparisonOps, s.out.toks[n-1].Value)
}

// scan reads the tokens of src from offset start (diag.TextStart), which
// is line 1, column 1.
func scan(filename, src string, start int) scanned {
	s := &scanner{file: filename, src: src, off: start, line: 1, lineStart: start}
	// About one token per five bytes in typical flows.
	s.out.toks = make([]lexer.Token, 0, len(src)/5+1)
	s.out.blank = make([]bool, 0, len(src)/5+1)
	s.run()
	return s.out
}

func (s *scanner) pos(off int) lexer.Position {
	return lexer.Position{Filename: s.file, Offset: off, Line: s.line, Column: off - s.lineStart + 1}
}

func (s *scanner) fail(off int, hint, format string, args ...any) {
	d := diag.Errorf(rangeAt(s.pos(off)), "syntax", format, args...)
	if hint != "" {
		d = d.WithHint("%s", hint)
	}
	s.out.err = &d
}

// MaxTokens bounds the tokens of one file (about 100,000 steps). Together
// with MaxFileSize it bounds the time and memory one file can take: without
// it, 8 MiB of "step A{}" would be a million steps.
const MaxTokens = 1_000_000

// maxTokens is MaxTokens, lowered by tests.
var maxTokens = MaxTokens

func (s *scanner) emit(typ lexer.TokenType, start int) {
	if len(s.out.toks) == maxTokens {
		s.fail(start, "split the flows into several files", "file too large: more than %d tokens", maxTokens)
		return
	}
	s.out.toks = append(s.out.toks, lexer.Token{Type: typ, Value: s.src[start:s.off], Pos: s.pos(start)})
	s.out.blank = append(s.out.blank, s.lastLine > 0 && s.line-s.lastLine > 1)
	s.lastLine = s.line
}

func (s *scanner) run() {
	src := s.src
	start := 0
	for s.off < len(src) && s.out.err == nil {
		c := src[s.off]
		start = s.off
		switch {
		case c == '\n':
			s.off++
			s.line++
			s.lineStart = s.off
		case c == ' ' || c == '\t' || c == '\r':
			s.off++
		case c == '/':
			if s.off+1 < len(src) && src[s.off+1] == '/' {
				s.comment()
				continue
			}
			hint := "a comment starts with //"
			if s.off+1 < len(src) && src[s.off+1] == '*' {
				hint = "block comments are not supported; start each comment line with //"
			}
			s.fail(start, hint, "unexpected character '/'")
		case c == '"':
			s.string()
		case isDigit(c):
			s.number(start)
		case ident.Start(c):
			for s.off < len(src) && ident.Part(src[s.off]) {
				s.off++
			}
			s.emit(tokIdent, start)
			if src[start:s.off] == ident.KeywordWhen {
				s.inCond = true
			}
		case c == '-' && s.off+1 < len(src) && src[s.off+1] == '>':
			s.off += 2
			s.emit(tokPunct, start)
			s.inCond = false
		case c == '.' && s.afterCondPath(start):
			// Customer.Tier: a member of a condition's field. The member's
			// name follows at once, as in a Go selector.
			if s.off+1 >= len(src) || !ident.Start(src[s.off+1]) {
				s.fail(start, "name a member after the dot, with no space: Customer.Tier", "unexpected character '.'")
				break
			}
			s.off++
			s.emit(tokPunct, start)
		case c == '.' && s.off+1 < len(src) && src[s.off+1] == '.':
			s.off += 2
			s.emit(tokPunct, start)
		case c == '-' && s.off+1 < len(src) && isDigit(src[s.off+1]) && s.afterComparison():
			// A negative number is a comparison's literal (Balance < -5);
			// anywhere else the minus is refused with a hint.
			s.off++
			s.number(start)
		case c == '=' || c == '!' || c == '<' || c == '>':
			s.comparison(start)
		case c == '(':
			if s.parens++; s.parens > MaxParens {
				s.fail(start, "split the condition, or name a part of it with a bool field of the state", "parentheses nested more than %d deep", MaxParens)
				break
			}
			s.off++
			s.emit(tokPunct, start)
		case c == ')':
			s.parens = max(s.parens-1, 0)
			s.off++
			s.emit(tokPunct, start)
		case c == '{' || c == '}' || c == ',':
			s.off++
			s.emit(tokPunct, start)
			s.inCond = false
		default:
			s.unexpected(start)
		}
	}
	if s.out.err != nil {
		// A parse error before this point is reported first, so that
		// errors come in source order; see Parse.
		s.out.errAt = start
		s.out.toks = append(s.out.toks, lexer.Token{Type: tokInvalid, Value: "\x00invalid", Pos: s.pos(start)})
		s.out.blank = append(s.out.blank, false)
	}
	s.out.toks = append(s.out.toks, lexer.EOFToken(s.pos(s.off)))
	s.out.blank = append(s.out.blank, s.lastLine > 0 && s.line-s.lastLine > 1)
}

func (s *scanner) unexpected(off int) {
	r, _ := utf8.DecodeRuneInString(s.src[off:])
	hint := ""
	switch {
	case (r == '+' || r == '-') && s.afterSleepUntil():
		// sleep until RemindAt + 24h: an offset from the field.
		hint = "sleep until takes a time.Time field as it is: keep the time to wake at in a field of its own, set by an earlier step, or sleep a duration (sleep 24h)"
	case r == '*' && s.afterTypeOrFieldStart():
		// state *SignupState, (*Customer), -> *CustomerID: a Go habit.
		hint = "a type or field is named without *: state SignupState, (Customer), -> CustomerID; the state is a struct the runtime copies into each event, and a field may itself be a pointer"
	case r == '+' || r == '*':
		hint = "a .flow file has no arithmetic: compute the value into a state field in a Go step, and name that field"
	case r == '-' && s.afterBackoffStart():
		// backoff 50ms-1s, or 50ms - 1s: a range written as in prose.
		hint = `a backoff range is written "backoff 100ms..5s"`
	case r == '-' && s.afterExponent(off):
		// 1e-3: the lexer read "1e" as a duration with the unit e.
		hint = "a number is written in decimal, without an exponent: 0.001, not 1e-3"
	case r == '-' && off+1 < len(s.src) && isDigit(s.src[off+1]):
		// Not a condition's (afterComparison lexes it as a number): a
		// duration, an attempt count or a multiplier.
		lit := s.src[off+1:]
		lit = lit[:len(lit)-len(strings.TrimLeftFunc(lit, func(r rune) bool { return r == '.' || r < utf8.RuneSelf && ident.Part(byte(r)) }))]
		hint = "a duration or a count is never negative (only a condition's number may be): write " + lit
	case r == '-' && s.dashedName(off, ident.KeywordRPC, ident.KeywordPublish, ident.KeywordAwait, "event") != "":
		// publish order-events "x": another system's name, whose "-"
		// would otherwise read as a broken "->".
		hint = "a service or topic name that is not an identifier is written as a string: " + strconv.Quote(s.dashedName(off, ident.KeywordRPC, ident.KeywordPublish, ident.KeywordAwait, "event"))
	case r == '-' && s.dashedName(off, "flow", "step", ident.KeywordParallel, "->") != "":
		// step Create-Customer, on ok -> Create-Customer.
		hint = `names are letters, digits and _, without "-": ` + strings.ReplaceAll(s.dashedName(off, "flow", "step", ident.KeywordParallel, "->"), "-", "")
	case r == '-' && s.afterComparison():
		// Not "->": the minus of a condition's literal that is not a
		// number right after it (- 5, -"a", -true).
		hint = "only a number can be negative, with its minus sign right before it: Balance < -2.5"
	case r == '-':
		hint = `transitions are written "on outcome -> Target"`
	case r == '.' && s.afterComparison():
		hint = "a number starts with a digit: 0.5"
	case r == '.' && s.afterComparedNumber(off):
		hint = "a fraction has digits after its point: 1.5"
	case r == '[' && s.inCond:
		// Tags["vip"], Lines[0]: Go's index of a map or a slice.
		hint = "a condition reads a field, or a member of a struct field (Customer.Tier), never an entry of a map or a slice: set what to test into a field of its own in an earlier Go step, and compare that field"
	case r == '.' && s.inCond:
		// Not right after a condition's field or member (afterCondPath):
		// Customer .Tier, or a dot after a literal.
		hint = "a condition reads a member of a field with a dot right after the field's name: Customer.Tier"
	case r == '.' && s.afterCorrelatePath(off):
		hint = `a dotted payload path is a string: on "payment.order_id"`
	case r == '.' && s.afterCallee(off):
		hint = "a call names a flow of this Go package (declared in this file or a .flow file beside it), with no package: call Billing"
	case r == '.' && s.afterStateField(off) != "":
		field, member := s.afterStateField(off), s.src[off+1:]
		member = member[:len(member)-len(strings.TrimLeftFunc(member, func(r rune) bool { return r < utf8.RuneSelf && ident.Part(byte(r)) }))]
		hint = ident.FieldMemberHint(field, member)
	case r == '.' && off > 0 && ident.Start(s.src[off-1]) && !s.afterDuration(off):
		hint = `names cannot contain "."; endpoints and event names are strings: "Customer.Create"`
	case r == '.':
		hint = `a backoff range is written "backoff 100ms..5s"`
	case r == '\'' || r == '`':
		hint = `strings are written in double quotes: "text"`
	case r == ';':
		hint = "statements need no separator; put one per line"
	case r == '[' || r == ']':
		// outcomes [approved, rejected]: a list as JSON writes it.
		hint = "a list is written without brackets: outcomes approved, rejected; writes A, B"
	case r == '#':
		hint = "a comment starts with //, not #"
	case strings.ContainsRune("@$%^~?\\", r):
		hint = "this character belongs only in strings (in double quotes) and comments (after //)"
	case r == ':' && s.inCond:
		// when Tier == "gold": Concierge, as in a switch or YAML.
		hint = "a when line leads to its target with ->: when Tier == \"gold\" -> Concierge"
	case r == ':' && s.afterOutcome():
		hint = "a transition is written on outcome -> Target: on ok -> Done"
	case r == ':':
		hint = `a .flow file has no ":": a statement is its keyword and what follows it, such as retry 3, state OrderState or step Name { ... }`
	case r == '&' || r == '|':
		hint = "conditions combine with and, or and not: when Express and not Oversize -> Ship"
	case r >= utf8.RuneSelf:
		hint = "names are ASCII letters, digits and _; other text belongs in strings or comments"
	}
	s.fail(off, hint, "unexpected character %s", quoteRune(r))
}

// afterTypeOrFieldStart reports whether the last token scanned is where
// a state type or a state field is named next: "state", the "(" of a
// request or payload, or an "->" (a target step too, which takes no *
// either).
func (s *scanner) afterTypeOrFieldStart() bool {
	n := len(s.out.toks)
	if n == 0 || s.inCond {
		return false
	}
	t := s.out.toks[n-1]
	return (t.Type == tokIdent && t.Value == "state") || (t.Type == tokPunct && (t.Value == "(" || t.Value == "->"))
}

// afterOutcome reports whether the last tokens scanned are "on" and an
// outcome: what follows is the "->" of a transition.
func (s *scanner) afterOutcome() bool {
	n := len(s.out.toks)
	return n >= 2 && s.out.toks[n-1].Type == tokIdent && s.out.toks[n-2].Type == tokIdent && s.out.toks[n-2].Value == "on"
}

// afterBackoffStart reports whether the last tokens scanned are "backoff"
// and a duration: what follows is the ".." of the range.
func (s *scanner) afterBackoffStart() bool {
	n := len(s.out.toks)
	return n >= 2 && s.out.toks[n-1].Type == tokDuration &&
		s.out.toks[n-2].Type == tokIdent && s.out.toks[n-2].Value == "backoff"
}

// afterDuration reports whether the token that ends at off is a duration
// (the last token scanned).
func (s *scanner) afterDuration(off int) bool {
	n := len(s.out.toks)
	if n == 0 {
		return false
	}
	t := s.out.toks[n-1]
	return t.Type == tokDuration && t.Pos.Offset+len(t.Value) == off
}

// afterCallee reports whether the token that ends at off is the flow name
// of a call (or of a rollback call): call billing.Invoice names a flow of
// another package. (A service or topic named call, rpc call foo.Bar, fails
// to parse before the dot, and that error is reported first.)
func (s *scanner) afterCallee(off int) bool {
	n := len(s.out.toks)
	if n < 2 {
		return false
	}
	t := s.out.toks
	return t[n-1].Type == tokIdent && t[n-1].Pos.Offset+len(t[n-1].Value) == off && t[n-2].Value == "call"
}

// afterCondPath reports whether the token that ends at off is a field of
// a condition, or a member of one, so that a "." there selects a member
// (when Customer.Tier == "gold"): an identifier in a when line, after
// when, and, or, not, "(" or a ".".
func (s *scanner) afterCondPath(off int) bool {
	n := len(s.out.toks)
	if !s.inCond || n < 2 {
		return false
	}
	t := s.out.toks
	if t[n-1].Type != tokIdent || t[n-1].Pos.Offset+len(t[n-1].Value) != off {
		return false
	}
	switch t[n-2].Value {
	case ident.KeywordWhen, ident.KeywordAnd, ident.KeywordOr, ident.KeywordNot, "(", ".":
		return true
	}
	return false
}

// afterStateField returns the name that ends at off when it stands where
// a state field does outside a condition (whose fields have members,
// afterCondPath): a request or call input "(Field", or the field of sleep
// until, correlate or writes. Applicant.Name there is a member of a field,
// which only a condition reaches into. (A field after "->" is left out:
// there a target is as likely.)
func (s *scanner) afterStateField(off int) string {
	n := len(s.out.toks)
	if n < 2 {
		return ""
	}
	t := s.out.toks
	if t[n-1].Type != tokIdent || t[n-1].Pos.Offset+len(t[n-1].Value) != off {
		return ""
	}
	switch t[n-2].Value {
	case "(", "until", "correlate", "writes":
		return t[n-1].Value
	}
	return ""
}

// dashedName returns the name that the identifier ending at off (the
// last token scanned), written after one of the words before, and a "-"
// there followed by a letter would make, with its further "-" and name
// characters ("order-mail-v2"); "" when off does not continue such an
// identifier so.
func (s *scanner) dashedName(off int, before ...string) string {
	n := len(s.out.toks)
	if n < 2 || off+1 >= len(s.src) || !ident.Start(s.src[off+1]) || !slices.Contains(before, s.out.toks[n-2].Value) {
		return ""
	}
	t := s.out.toks[n-1]
	if t.Type != tokIdent || t.Pos.Offset+len(t.Value) != off {
		return ""
	}
	end := off
	for end < len(s.src) && (s.src[end] == '-' || ident.Part(s.src[end])) {
		end++
	}
	return t.Value + s.src[off:end]
}

// afterSleepUntil reports whether the last tokens scanned are "until"
// and its field.
func (s *scanner) afterSleepUntil() bool {
	n := len(s.out.toks)
	return n >= 2 && s.out.toks[n-2].Value == ident.KeywordUntil && s.out.toks[n-1].Type == tokIdent
}

// afterCorrelatePath reports whether the token that ends at off is the
// path of "correlate Field on path".
func (s *scanner) afterCorrelatePath(off int) bool {
	n := len(s.out.toks)
	if n < 4 {
		return false
	}
	t := s.out.toks
	return t[n-1].Type == tokIdent && t[n-1].Pos.Offset+len(t[n-1].Value) == off &&
		t[n-2].Value == "on" && t[n-4].Value == "correlate"
}

func quoteRune(r rune) string {
	if r == '\'' {
		return `"'"`
	}
	return strconv.QuoteRune(r)
}

func (s *scanner) comment() {
	start := s.off
	end := strings.IndexByte(s.src[start:], '\n')
	if end < 0 {
		end = len(s.src)
	} else {
		end += start
	}
	s.off = end
	text := strings.TrimRight(s.src[start:end], "\r")
	c := &Comment{
		Pos:         s.pos(start),
		Text:        text,
		OwnLine:     s.lastLine < s.line,
		BlankBefore: s.lastLine > 0 && s.line-s.lastLine > 1,
	}
	s.out.comments = append(s.out.comments, c)
	s.lastLine = s.line
}

func (s *scanner) string() {
	start := s.off
	s.off++
	for {
		if s.off >= len(s.src) || s.src[s.off] == '\n' {
			s.fail(start, `close the string with " on the same line`, "unterminated string")
			return
		}
		c := s.src[s.off]
		if c == '"' {
			s.off++
			break
		}
		if c == '\\' && s.off+1 < len(s.src) {
			s.off++
		}
		s.off++
	}
	// Check escapes one by one so that a bad one is reported where it is.
	body := s.src[start+1 : s.off-1]
	// Strings are text: their Go and JSON forms must agree, which byte
	// escapes that do not make UTF-8 (JSON would turn them into U+FFFD)
	// or a NUL (not allowed in Go source) would break.
	firstByteEscape := -1
	for len(body) > 0 {
		value, multibyte, tail, err := strconv.UnquoteChar(body, '"')
		at := s.off - 1 - len(body)
		if err != nil {
			s.fail(at, `strings use Go escapes: \" \\ \n \t \x41 \u00e9`, "invalid escape sequence in string")
			return
		}
		switch {
		case value == 0:
			s.fail(at, "remove it: names, topics and values are text", "a NUL character in a string")
			return
		case !multibyte && value >= utf8.RuneSelf && firstByteEscape < 0:
			firstByteEscape = at
		}
		body = tail
	}
	// Only byte escapes can make text that is not UTF-8 (the source is).
	if firstByteEscape >= 0 {
		if text, err := strconv.Unquote(s.src[start:s.off]); err == nil && !utf8.ValidString(text) {
			s.fail(firstByteEscape, `write the characters themselves, or \u escapes such as \u00e9`, "byte escapes in this string do not make UTF-8 text")
			return
		}
	}
	s.emit(tokString, start)
}

// number scans, from start (at a digit, or at the minus of a negative
// number), "3", "1.5" or a duration such as "250ms", "1h30m", "1.5h".
// A duration is a number followed by letters; the letters and any further
// digits are kept in one token so that "10x" or "1h30" reach Build whole and
// are reported with what is wrong with them.
func (s *scanner) number(start int) {
	src := s.src
	s.digits()
	if s.off+1 < len(src) && src[s.off] == '.' && isDigit(src[s.off+1]) {
		s.off++
		s.digits()
	}
	if s.off >= len(src) || !isUnitStart(src[s.off:]) {
		s.emit(tokNumber, start)
		return
	}
	for s.off < len(src) {
		switch {
		case ident.Part(src[s.off]):
			s.off++
		case strings.HasPrefix(src[s.off:], "µ"), strings.HasPrefix(src[s.off:], "μ"):
			s.off += 2
		case src[s.off] == '.' && s.off+1 < len(src) && isDigit(src[s.off+1]):
			s.off++
		default:
			s.emit(tokDuration, start)
			return
		}
	}
	s.emit(tokDuration, start)
}

func (s *scanner) digits() {
	for s.off < len(s.src) && isDigit(s.src[s.off]) {
		s.off++
	}
}

func isUnitStart(s string) bool {
	return ident.Start(s[0]) || strings.HasPrefix(s, "µ") || strings.HasPrefix(s, "μ")
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// rangeAt is the range of a single point.
func rangeAt(p lexer.Position) diag.Range { return diag.Range{Start: toPos(p)} }

// toPos converts a participle position to a diag position. Columns are
// bytes in both, because the lexer above counts them so.
func toPos(p lexer.Position) diag.Pos {
	return diag.Pos{File: p.Filename, Offset: p.Offset, Line: p.Line, Column: p.Column}
}

// ToPos is toPos for package dsl, which converts AST positions to diag
// positions the same way.
func ToPos(p lexer.Position) diag.Pos { return toPos(p) }
