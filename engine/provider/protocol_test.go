package provider

import (
	"strings"
	"testing"
)

// DecodeStrict takes one JSON object and nothing else: null would decode
// into the struct as nothing at all, and the engine would take a handler
// that returned nothing for one that succeeded.
func TestDecodeStrictWantsOneObject(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{` {"outcome": "ok"} `, ""},
		{`{"state": {"A": 1}}`, ""},
		{`null`, "not a JSON object"},
		{" \n null", "not a JSON object"},
		{`[]`, "not a JSON object"},
		{`"ok"`, "not a JSON object"},
		{``, "EOF"},
		{`{"outcome": "ok"} {}`, "data after the JSON value"},
		{`{"outcome": "ok", "x": 1}`, `unknown field "x"`},
	} {
		var rsp Response
		err := DecodeStrict([]byte(tc.in), &rsp)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("DecodeStrict(%q): %v, want %q", tc.in, err, tc.err)
		}
	}
}
