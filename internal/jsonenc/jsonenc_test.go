package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

type withRaw struct {
	S string          `json:"s"`
	R json.RawMessage `json:"r"`
}

// Strings, a json.RawMessage and a json.Marshaler's output keep <, > and
// & as they are, where encoding/json escapes each to six bytes.
func TestMarshalKeepsHTML(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{withRaw{S: "<a&b>", R: json.RawMessage(`{"x": "<&>"}`)}, `{"s":"<a&b>","r":{"x":"<&>"}}`},
		{map[string]json.RawMessage{"k": json.RawMessage(`"\u2028<"`)}, `{"k":"\u2028<"}`},
		{"plain", `"plain"`},
	} {
		got, err := Marshal(c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", c.v, got, err, c.want)
		}
	}
	if _, err := Marshal(func() {}); err == nil {
		t.Error("a func encodes")
	}
}

// Marshal's shortcut (encoding/json's output when it escaped nothing)
// gives what the Encoder told not to escape gives, for every string:
// those it escapes, those that only look escaped, control characters.
func FuzzMarshalAsEncoder(f *testing.F) {
	for _, s := range []string{"", "plain", "<a&b>", `\u003c`, `\\u00`, "\x01\n\t", "\u2028", "é", `"quoted"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []any{s, map[string]string{s: s}, withRaw{S: s, R: json.RawMessage(`null`)}} {
			got, err := Marshal(v)
			want, werr := marshalNoEscape(v)
			if string(got) != string(want) || (err == nil) != (werr == nil) {
				t.Fatalf("Marshal(%#v) = %s, %v; the Encoder gives %s, %v", v, got, err, want, werr)
			}
		}
	})
}

// marshalNoEscape is Marshal through an Encoder told not to escape.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
