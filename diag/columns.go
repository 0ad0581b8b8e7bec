package diag

import (
	"unicode"

	"golang.org/x/text/width"
)

// Columns is how many columns a terminal gives s: two for each wide or
// fullwidth character (CJK ideographs, kana, hangul, fullwidth forms,
// most emoji), none for a combining mark, one for the others. A caret
// padded by characters alone fell short under a line of Japanese; so did
// the comments flowgen fmt aligns and the columns of flowgen's tables. The
// one home of a text's width on screen.
func Columns(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me):
		case width.LookupRune(r).Kind() == width.EastAsianWide, width.LookupRune(r).Kind() == width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
