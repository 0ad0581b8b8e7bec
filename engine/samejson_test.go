package engine

import "testing"

// TestSameJSON pins what docs/engine.md says makes a body sent again with
// its Idempotency-Key the same request's: the same JSON value, members in
// any order and white space aside, numbers as written.
func TestSameJSON(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{`{"a":1,"b":"x"}`, `{ "b": "x", "a": 1 }`, true},
		{`[1, 2]`, `[2, 1]`, false},
		{`{"X":1}`, `{"X":1.0}`, false},
		{`{"X":1e2}`, `{"X":100}`, false},
		{`{"X":"1"}`, `{"X":1}`, false},
		{`null`, ` null `, true},
		{`{"a":1}`, `{"a":1}{`, false},
	} {
		if got := sameJSON([]byte(c.a), []byte(c.b)); got != c.same {
			t.Errorf("sameJSON(%s, %s) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
