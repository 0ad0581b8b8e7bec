// Package snippet is how an error message shows text that is not the
// engine's own: the body of a service's or a provider's non-2xx answer, a
// provider's error message, a name or a number too long to repeat whole.
// The messages go into runs' histories, which clients read as JSON, so
// what is kept is cut at a rune's start and never ends in half a
// character (encoding/json would show it as U+FFFD, a strict client would
// refuse it).
package snippet

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// BodyBytes is how much of a foreign body an error quotes (Body).
const BodyBytes = 200

// Cut is s if it is at most n bytes long, else its start, cut to at most
// n bytes at a rune's start, and "...".
func Cut(s string, n int) string {
	if start, cut := head(s, n); cut {
		return start + "..."
	}
	return s
}

// Quote is s quoted as Go quotes it (strconv.Quote: control characters
// and bytes that are not UTF-8 escaped, so the message stays one line of
// UTF-8), cut as Cut cuts it, with the "..." after the closing quote: it
// is not the text's.
func Quote(s string, n int) string {
	start, cut := head(s, n)
	if cut {
		return strconv.Quote(start) + "..."
	}
	return strconv.Quote(s)
}

// CharAt quotes the character at byte i of s for an error: the whole
// UTF-8 character, as the caller wrote it (its first byte alone reads as
// another letter: 'Ã' for the 'Ä' of "Äb"), or the byte in hex where s is
// not UTF-8.
func CharAt(s string, i int) string {
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n <= 1 {
		return fmt.Sprintf("the byte %#02x", s[i])
	}
	return strconv.QuoteRune(r)
}

// Body is the start of the body b of an answer for an error message: its
// first BodyBytes bytes, white space trimmed, Quoted.
func Body(b []byte) string {
	return Quote(strings.TrimSpace(string(b)), BodyBytes)
}

// head is s cut to at most n bytes at a rune's start, and whether it was
// cut.
func head(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	// A rune is at most utf8.UTFMax bytes: past that, s is not UTF-8
	// there, and Quote escapes what is kept.
	for back := 0; back < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(s[n]); back++ {
		n--
	}
	return s[:n], true
}
