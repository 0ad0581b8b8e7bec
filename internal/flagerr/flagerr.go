// Package flagerr reads the errors of the standard flag package, which
// returns no typed error: `flowgen` and the Temporal module's
// `flowgen-temporal` both say more than its text about a flag it does not
// know (the closest flag, or where a flag of another command went). Its
// flag values say what they want of a bad value (DurationVar, PathVar).
package flagerr

import (
	"flag"
	"strings"

	"github.com/flowgen/flowgen/diag"
)

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

// Closest returns the flag of fs closest to the unknown one err names (a
// mistyped -tokens), without its dash: "" when err is not about an unknown
// flag or no flag of fs is within two edits (one for a name of two
// letters).
func Closest(err error, fs *flag.FlagSet) string {
	name, ok := Unknown(err)
	if !ok {
		return ""
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return diag.Closest(name, names, min(2, len(name)-1))
}

// Describe is err's text, and the closest flag of fs when err names an
// unknown one ("...; did you mean -tokens?"): what both commands print.
func Describe(err error, fs *flag.FlagSet) string {
	if s := Closest(err, fs); s != "" {
		return err.Error() + "; did you mean -" + s + "?"
	}
	return err.Error()
}
