package jsonenc

import (
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
