// Package jsonenc encodes JSON as encoding/json's Marshal does, but keeps
// <, > and & as they are, where Marshal writes \u003c and the like, six
// bytes for one, in strings and in what a json.Marshaler or
// json.RawMessage gives alike (U+2028 and U+2029 in a string are still
// escaped: encoding/json always does). A run's state and a
// provider's call and answer are encoded so: they are data for programs,
// never HTML, and escaped they could grow sixfold at each step, past
// the bounds that hold them (a provider's call, a store's record).
// Addressed is how a user's value is handed to an encoder: through a
// pointer, so that its pointer JSON methods count.
package jsonenc

import (
	"bytes"
	"encoding/json"
)

// Marshal returns the JSON encoding of v, with no HTML escaping and no
// trailing newline.
func Marshal(v any) ([]byte, error) {
	// encoding/json's own Marshal, then its three HTML escapes undone in
	// place: one allocation, as Marshal's, where an Encoder told not to
	// escape (marshalNoEscape, which FuzzMarshalAsEncoder compares this
	// with) costs two, on every snapshot of every run.
	b, err := json.Marshal(v)
	if err != nil || bytes.IndexByte(b, '\\') < 0 {
		return b, err
	}
	return unescapeHTML(b), nil
}

// unescapeHTML rewrites, in place, the escapes \u003c, \u003e and \u0026
// of b, encoding/json's output, as the characters they stand for. Every
// backslash in such output begins an escape (outside strings JSON has
// none), so the others, two characters or six, are copied whole.
func unescapeHTML(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); {
		c := b[r]
		if c != '\\' || r+1 >= len(b) {
			b[w] = c
			w, r = w+1, r+1
			continue
		}
		if b[r+1] == 'u' && r+6 <= len(b) {
			var ch byte
			switch string(b[r+2 : r+6]) {
			case "003c":
				ch = '<'
			case "003e":
				ch = '>'
			case "0026":
				ch = '&'
			}
			if ch != 0 {
				b[w], w, r = ch, w+1, r+6
				continue
			}
		}
		b[w], b[w+1] = c, b[r+1]
		w, r = w+2, r+2
	}
	return b[:w]
}
