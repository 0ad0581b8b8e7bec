package diag

import "strings"

// OrList joins items as messages and hints name alternatives: "a",
// "a or b", "a, b or c" ("" for none).
func OrList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
