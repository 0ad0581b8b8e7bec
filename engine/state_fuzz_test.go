package engine

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzState: a JSON flow's state comes from outside (the body of POST
// /runs, an rpc's response): State reads a JSON object or null and
// nothing else, and a state read from JSON the engine takes in (jsonUnfit)
// writes JSON the engine takes in, which reads back to the same fields
// with the same values.
//
//	go test ./engine -run '^$' -fuzz FuzzState -fuzztime 5m
func FuzzState(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, ` {"a": 1, "b": [true, null], "c": {"d": "e"}} `, `{"a":1,"a":2}`,
		`{"<&>":"\u2028<"}`, `[1]`, `"s"`, `{"n":1e308,"m":-0.0}`, `{"\ud800":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s State
		if err := json.Unmarshal(b, &s); err != nil || !json.Valid(b) || jsonUnfit(b) != nil {
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%q: the state does not write: %v", b, err)
		}
		if err := jsonUnfit(out); err != nil {
			t.Fatalf("%q: the state writes %q, which the engine refuses: %v", b, out, err)
		}
		var back State
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q: the state writes %q, which does not read: %v", b, out, err)
		}
		if !slices.Equal(s.Fields(), back.Fields()) {
			t.Fatalf("%q: fields %q read back as %q", b, s.Fields(), back.Fields())
		}
		for _, k := range s.Fields() {
			if !sameJSON(s.Raw(k), back.Raw(k)) {
				t.Fatalf("%q: field %q is %s, reads back as %s", b, k, s.Raw(k), back.Raw(k))
			}
		}
	})
}
