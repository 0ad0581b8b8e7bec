package diag

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DidYouMean returns the candidate closest to name when it is close enough
// to be a likely typo (optimal string alignment distance, which counts a
// swap of two adjacent letters as one edit; case differences count as
// near misses), or else the one candidate that name begins (prefixOf:
// CoolingOff for CoolingOffEnds, RefundReq for RefundRequest), or "". Ties go to
// the earlier candidate, so the answer is deterministic. It is only called
// for names already known to be wrong.
func DidYouMean(name string, candidates []string) string {
	// Short names tolerate fewer edits: "Nope" is not a typo of "done".
	limit := 1
	switch n := utf8.RuneCountInString(name); {
	case n > 8:
		limit = 3
	case n > 4:
		limit = 2
	}
	if m := Closest(name, candidates, limit); m != "" {
		return m
	}
	return prefixOf(name, candidates)
}

// Suggestion is the end of a message about name, a word that is none of
// candidates: `; did you mean "x"?` for the one DidYouMean finds, or "".
// Every such message (a flag's value, a flow or endpoint a request names,
// a generator's target) ends so.
func Suggestion(name string, candidates []string) string {
	if m := DidYouMean(name, candidates); m != "" {
		return fmt.Sprintf("; did you mean %q?", m)
	}
	return ""
}

// minPrefixLen is the fewest runes a name needs for prefixOf: a shorter
// one ("Id", "At") begins too many names to mean one of them.
const minPrefixLen = 4

// prefixOf returns the one candidate that begins with name, a name cut
// short rather than mistyped: where a word of the candidate ends (a capital
// letter, a digit or an underscore follows: CoolingOff of CoolingOffEnds),
// or inside a word when name holds a whole word before the one it cuts
// (RefundReq of RefundRequest, refund_req of refund_request), but not a
// single word cut inside (Cool of CoolingOffEnds, Cust of Customer: a
// fragment of one word begins too many words to mean this one). "" when
// none or several do, since a guess among several is noise.
func prefixOf(name string, candidates []string) string {
	if utf8.RuneCountInString(name) < minPrefixLen || len(name) > maxSuggestLen {
		return ""
	}
	inside := hasWordBoundary(name) // a cut inside a word may count
	found := ""
	for _, cand := range candidates {
		rest, ok := strings.CutPrefix(cand, name)
		if ok && rest == "" {
			return "" // name is a candidate: not cut short
		}
		if !ok {
			continue
		}
		if !inside && !startsWord(rest) {
			continue
		}
		if found != "" && found != cand {
			return ""
		}
		found = cand
	}
	return found
}

// startsWord reports whether a word of a candidate starts at rest, the
// text after name: a capital letter, a digit or an underscore follows.
func startsWord(rest string) bool {
	r, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsUpper(r) || unicode.IsDigit(r) || r == '_'
}

// hasWordBoundary reports whether a word of name ends before its last one
// starts, as names join their words (CamelCase, snake_case, digits):
// RefundReq, URLPa, refund_req, Plan2x; not Refund, nor an initialism
// alone (ID, URL), nor a leading underscore (_req).
func hasWordBoundary(name string) bool {
	rs := []rune(name)
	for i := 1; i < len(rs); i++ {
		prev, r := rs[i-1], rs[i]
		switch {
		case unicode.IsUpper(r) && (!unicode.IsUpper(prev) || i+1 < len(rs) && unicode.IsLower(rs[i+1])):
			return true
		case unicode.IsDigit(r) && !unicode.IsDigit(prev):
			return true
		case prev == '_' && r != '_' && i > 1:
			return true
		}
	}
	return false
}

// Closest returns the candidate nearest to name within limit edits (optimal
// string alignment distance; a case-insensitive match wins outright), or "".
// Ties go to the earlier candidate. Callers with their own sense of "close"
// (keywords, verbs) pass their own limit. An empty name has none: nothing
// was typed, so nothing was mistyped (a JSON "target": "" is one edit from
// every one-letter name).
func Closest(name string, candidates []string, limit int) string {
	if name == "" || len(name) > maxSuggestLen {
		return "" // nobody mistypes a name this long; and the distance is quadratic
	}
	best, bestDist := "", -1
	n := utf8.RuneCountInString(name)
	for _, cand := range candidates {
		if cand == name || len(cand) > maxSuggestLen {
			continue
		}
		if strings.EqualFold(cand, name) {
			return cand
		}
		if diff := utf8.RuneCountInString(cand) - n; diff > limit || -diff > limit {
			continue
		}
		d := osaDistance(name, cand, limit)
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = cand, d
		}
	}
	return best
}

// maxSuggestLen bounds the names (in bytes) for which DidYouMean computes
// distances.
const maxSuggestLen = 128

// osaDistance is the optimal string alignment distance between a and b in
// runes, giving up (returning limit+1) as soon as it must exceed limit.
func osaDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
