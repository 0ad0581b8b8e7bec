package cli

import (
	"fmt"

	"github.com/flowgen/flowgen/diag"
)

// badChoice is the usage error of a flag that takes one of a set of words
// (-status, -state, -format), given value, which is none of them: it
// names the words, as want lists them, and the one value was most likely
// a typo of (diag.DidYouMean, as check names a misspelt step), in the
// engine's words for a flow it does not have: `; did you mean "x"?`.
func badChoice(e *env, flag, value, want string, choices []string) int {
	msg := fmt.Sprintf("unknown -%s %q; want %s", flag, value, want)
	if m := diag.DidYouMean(value, choices); m != "" {
		msg += fmt.Sprintf("; did you mean %q?", m)
	}
	return usageError(e, "%s", msg)
}
