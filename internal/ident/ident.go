// Package ident is the one home of flowgen's rules for names and
// spellings: what the .flow lexer reads as an identifier, how a service or
// topic name that is not one is written (quoted), what may name a Go
// declaration, the keywords that start a step's action line, and how a
// duration is written.
//
// It imports nothing of flowgen's and no module, so that the parser, the
// model (dsl) and its Go package checks share these rules without the model
// depending on the parser.
package ident

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Start reports whether c may start a .flow identifier: an ASCII letter or
// '_'.
func Start(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

// Part reports whether c may continue a .flow identifier: what may start
// one, or an ASCII digit.
func Part(c byte) bool { return Start(c) || '0' <= c && c <= '9' }

// Is reports whether s is one .flow identifier token: ASCII letters,
// digits and '_', not starting with a digit.
func Is(s string) bool {
	if s == "" || !Start(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !Part(s[i]) {
			return false
		}
	}
	return true
}

// Format writes a service or topic name the canonical .flow way: bare when
// it is an identifier ("billing"), quoted otherwise ("billing-events",
// "orders.v1").
func Format(name string) string {
	if Is(name) {
		return name
	}
	return strconv.Quote(name)
}

// Duration writes d in Go's syntax without its zero units, which parses
// back to d: "1h30m" rather than time.Duration's "1h30m0s" (not the
// shortest spelling: 90m is written 1h30m): fmt prints a .flow
// file's durations so, and the checks and diagrams quote them so.
func Duration(d time.Duration) string {
	s := d.String()
	if len(s) > 3 && s[len(s)-3:] == "m0s" {
		s = s[:len(s)-2]
	}
	if len(s) > 3 && s[len(s)-3:] == "h0m" {
		s = s[:len(s)-2]
	}
	return s
}

// IsGo reports whether s is an identifier in the Go sense, keywords
// included (go/token.IsIdentifier excludes them; the checks report
// keywords separately, to say why).
func IsGo(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == utf8.RuneError || !(unicode.IsLetter(r) || r == '_' || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

// Exported suggests an exported spelling of s for hints ("secret" ->
// "Secret", "_count" -> "Count": a leading underscore is what keeps such a
// name unexported, so it goes), or "" when no letter follows the leading
// underscores.
func Exported(s string) string {
	s = strings.TrimLeft(s, "_")
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || !unicode.IsLetter(r) {
		return ""
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// The keywords that start the action line of a step in .flow: the table of
// action kinds (dsl/kinds.go) names each kind's keyword with them, and the
// parser prints them (fmt, syntax errors). The grammar writes them in its
// struct tags (parser/ast.go), which cannot name a constant: a test of
// dsl/flowfile keeps the two equal.
const (
	KeywordRPC     = "rpc"
	KeywordAwait   = "await"
	KeywordPublish = "publish"
	KeywordSleep   = "sleep"
	KeywordChoose  = "choose"
	KeywordCall    = "call"
)

// The words of a choose block: each branch starts with KeywordWhen, the
// last with KeywordOtherwise; conditions combine with the others.
const (
	KeywordWhen      = "when"
	KeywordOtherwise = "otherwise"
	KeywordAnd       = "and"
	KeywordOr        = "or"
	KeywordNot       = "not"
)

// KeywordParallel starts a parallel block in a flow body (`parallel Name {
// step ... }`), and KeywordWrites a Go step's declaration of the state
// fields it writes (`writes A, B`), which a branch of a block merges back.
const (
	KeywordParallel = "parallel"
	KeywordWrites   = "writes"
)

// KeywordUntil follows KeywordSleep in `sleep until Field`.
const KeywordUntil = "until"

// CamelCase is the one rule that turns a .flow name into the exported
// words of a Go identifier: characters that are not letters or digits
// separate words and are dropped, and each word starts upper-case.
// "needs_review" -> "NeedsReview" (an outcome), "Card.Authorize" ->
// "CardAuthorize" (an endpoint: a method of a service port),
// "billing-events" -> "BillingEvents" (a service: its port), "HTTPError"
// stays. The result may be "" or start with a digit ("9lives"); GoName
// says whether it can stand alone as a Go name.
func CamelCase(s string) string {
	var b strings.Builder
	upper := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// GoName is CamelCase(s) when that is an exported Go identifier (a field or
// method name of its own), else "": "Card.Authorize" gives
// "CardAuthorize"; "9lives", "..." and "_" give "".
func GoName(s string) string {
	c := CamelCase(s)
	r, _ := utf8.DecodeRuneInString(c)
	if c == "" || !unicode.IsUpper(r) {
		return ""
	}
	return c
}

// Article is the indefinite article before word in flowgen's messages and
// generated comments: "an" before a vowel ("an await", "an OrderOutcome")
// and before "rpc", which is read letter by letter ("an rpc action"), "a"
// otherwise ("a step", "a SignupOutcome").
func Article(word string) string {
	if word != "" && strings.ContainsRune("AEIOUaeiou", rune(word[0])) || strings.EqualFold(word, "rpc") || strings.HasPrefix(strings.ToLower(word), "rpc ") {
		return "an"
	}
	return "a"
}

// FieldMemberHint says that a state field (field) is named alone where a
// member of it (member, "" when none follows the dot) was written: .flow
// refuses the dot there, and a JSON flow names no Go field by it.
func FieldMemberHint(field, member string) string {
	hint := "a state field is named alone, without a member"
	if member != "" {
		hint += ": " + field + ", not " + field + "." + member
	}
	return hint + "; to use a member, give the state a field of its own for it"
}
