package jsonpath

import (
	"strings"
	"testing"
)

func TestMember(t *testing.T) {
	long := strings.Repeat("k", 300)
	for _, c := range []struct{ path, key, want string }{
		{"$", "flows", "$.flows"},
		{"", "handlers", "handlers"},
		{"handlers[1]", "outcomes", "handlers[1].outcomes"},
		{"$", "a.b", `$["a.b"]`},
		{"", "a b", `["a b"]`},
		{"$", "", `$[""]`},
		{"$", "Zähler", `$["Zähler"]`},
		{"$", "1st", `$["1st"]`},
		{"$", "x\n", `$["x\n"]`},
		{"$", long, `$["` + strings.Repeat("k", 200) + `"...]`},
	} {
		if got := Member(c.path, c.key); got != c.want {
			t.Errorf("Member(%q, %.20q) = %q; want %q", c.path, c.key, got, c.want)
		}
	}
	if got := Index(Member("", "handlers"), 1); got != "handlers[1]" {
		t.Errorf("Index = %q", got)
	}
}
