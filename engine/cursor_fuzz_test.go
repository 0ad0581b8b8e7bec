package engine

import (
	"slices"
	"testing"
)

// FuzzCursor: a list's ?cursor= is the caller's text. decode takes only
// what encode writes, the one spelling of each cursor (as runtime.ParseKey
// takes one spelling of a key): any other string is refused, without a
// panic, and a cursor taken names parts, as many as its kind has, none
// empty, that encode writes back as it came.
//
//	go test ./engine -run '^$' -fuzz FuzzCursor -fuzztime 3m
func FuzzCursor(f *testing.F) {
	for _, s := range []string{
		runsCursor.encode("r-1"), deadLetterCursor.encode("orders", "order.paid", "m-1"),
		"c1.", "c1..", "c1.YQ", "c1.YR", "c1.YQ==", "c1.Y\nQ", "c1.YQ\r", "d1.YQ.YQ", "d1.YQ.YQ.YQ.YQ",
		"d1.YQ..YQ", "c1.+/", "c1.-_", "x1.YQ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		for _, k := range []cursorKind{runsCursor, deadLetterCursor} {
			parts, ok := k.decode(c)
			if !ok {
				continue
			}
			if len(parts) != k.parts || slices.Contains(parts, "") {
				t.Fatalf("%s decode(%q) = %q", k.list, c, parts)
			}
			if back := k.encode(parts...); back != c {
				t.Fatalf("%s decode(%q) = %q, which encode writes %q", k.list, c, parts, back)
			}
		}
	})
}
