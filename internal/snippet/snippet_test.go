package snippet

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "abc..."},
		{"€€", 4, "€..."}, // "€" is 3 bytes: the second is not cut in two
		{"a€", 3, "a..."}, // nor is the first
		{"😀😀", 7, "😀..."}, // 4 bytes a rune
		{"", 0, ""},
	} {
		if got := Cut(c.in, c.n); got != c.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// A body of multi-byte characters, cut anywhere, stays UTF-8: the test
// that httpcall's snippet (s[:200]) failed.
func TestBodyCutsAtARune(t *testing.T) {
	for pad := range 4 {
		b := []byte(strings.Repeat("x", pad) + strings.Repeat("€", 100))
		got := Body(b)
		if !utf8.ValidString(got) || strings.Contains(got, `\x`) {
			t.Errorf("Body of %d bytes: %q, cut inside a rune", len(b), got)
		}
		if !strings.HasSuffix(got, `"...`) || len(got) > BodyBytes+5 {
			t.Errorf("Body of %d bytes: %q, want at most %d bytes quoted and \"...\"", len(b), got, BodyBytes)
		}
	}
	if got, want := Body([]byte(" \n{\"error\": \"bad\"}\n")), `"{\"error\": \"bad\"}"`; got != want {
		t.Errorf("Body = %s, want %s", got, want)
	}
	// A body that is not UTF-8 shows its bytes escaped; one of
	// continuation bytes alone is cut at BodyBytes less at most 3.
	if got := Body([]byte(strings.Repeat("\x80", 300))); !utf8.ValidString(got) || !strings.HasPrefix(got, `"\x80\x80`) || strings.Count(got, `\x80`) < BodyBytes-3 {
		t.Errorf("Body of bytes that are not UTF-8: %q", got)
	}
}
