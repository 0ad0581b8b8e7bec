// Package flagerr reads the errors of the standard flag package, which
// returns no typed error: `flowgen` and the Temporal module's
// `flowgen-temporal` both say more than its text about a flag it does not
// know (the closest flag, or where a flag of another command went).
package flagerr

import "strings"

// unknownPrefix starts the flag package's error for a flag its FlagSet
// does not define: "flag provided but not defined: -NAME".
const unknownPrefix = "flag provided but not defined: -"

// Unknown returns the name, without dashes, of the flag that err says is
// not defined, and whether err says so.
func Unknown(err error) (name string, ok bool) {
	if err == nil {
		return "", false
	}
	name, ok = strings.CutPrefix(err.Error(), unknownPrefix)
	return strings.TrimLeft(name, "-"), ok
}
