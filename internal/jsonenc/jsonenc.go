// Package jsonenc encodes JSON as encoding/json's Marshal does, but keeps
// <, > and & (and U+2028, U+2029) as they are, where Marshal writes
// \u003c and the like, six bytes for one, in strings and in what a
// json.Marshaler or json.RawMessage gives alike. A run's state and a
// provider's call and answer are encoded so: they are data for programs,
// never HTML, and escaped they could grow sixfold at each step, past
// the bounds that hold them (a provider's call, a store's record).
package jsonenc

import (
	"bytes"
	"encoding/json"
)

// Marshal returns the JSON encoding of v, with no HTML escaping and no
// trailing newline.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
