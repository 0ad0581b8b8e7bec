package diag

import "testing"

// Suggestion is the one ending of every message that names a word it did
// not take and the one meant.
func TestSuggestion(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"mermiad", `; did you mean "mermaid"?`},
		{"png", ""},
	} {
		if got := Suggestion(tc.name, []string{"dot", "mermaid", "svg", "html"}); got != tc.want {
			t.Errorf("Suggestion(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
