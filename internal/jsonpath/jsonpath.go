// Package jsonpath writes where a value sits in a JSON document, for the
// errors about it: $.flows[0].steps[1].name in a JSON flow's diagnostics,
// handlers[1].outcomes in a provider's registration. It is the one rule
// for how such a path spells a member and an element, so that a client
// reading both kinds of error reads one notation.
package jsonpath

import (
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// Member is path extended by the member key: ".key" for a key that is a
// plain ASCII name (the key alone at the top, path ""), else `["key"]`
// quoted as Go quotes it, so that a key holding a dot, a bracket or a
// space keeps the path unambiguous. A key longer than a diagnostic quotes
// (diag.QuoteBytes; no name the forms have is that long) is cut as
// diag.Quote cuts it, so an error about a key of megabytes is not
// megabytes long.
func Member(path, key string) string {
	if len(key) > diag.QuoteBytes {
		return path + "[" + diag.Quote(key) + "]"
	}
	if ident.IsGo(key) && strings.IndexFunc(key, func(r rune) bool { return r > 0x7f }) < 0 {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// Index is path extended by the array element i: "[i]".
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }
