package diag

import "strings"

// OrList joins items as messages and hints name alternatives: "a",
// "a or b", "a, b or c" ("" for none).
func OrList(items []string) string { return joinList(items, " or ") }

// AndList joins items as messages and generated docs name several at
// once: "a", "a and b", "a, b and c" ("" for none).
func AndList(items []string) string { return joinList(items, " and ") }

// joinList joins items with ", " and, before the last, last.
func joinList(items []string, last string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + last + items[len(items)-1]
}
