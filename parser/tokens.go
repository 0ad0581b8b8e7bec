package parser

import (
	"strconv"

	"github.com/flowgen/flowgen/internal/ident"
)

// Tokens made rather than read, for a syntax tree built from a model that
// was not parsed from .flow text (dsl/flowfile.Syntax: the .flow form of a
// JSON flow), which Format then prints. Their positions are zero.

// IdentToken is the identifier name: a flow, step, field or outcome, or a
// keyword value such as a retry's jitter.
func IdentToken(name string) *Token { return &Token{Type: tokIdent, Value: name} }

// StringToken is the string literal of s, quoted.
func StringToken(s string) *Token { return &Token{Type: tokString, Value: strconv.Quote(s)} }

// NameToken is a service or topic name as .flow writes it: bare when it is
// an identifier, a string literal otherwise (Name reads either).
func NameToken(name string) *Token {
	if ident.Is(name) {
		return IdentToken(name)
	}
	return StringToken(name)
}

// DurationToken is a duration literal in Go syntax, such as "1h30m".
func DurationToken(text string) *Token { return &Token{Type: tokDuration, Value: text} }

// NumberToken is a number literal, such as "3" or "-2.5".
func NumberToken(text string) *Token { return &Token{Type: tokNumber, Value: text} }
