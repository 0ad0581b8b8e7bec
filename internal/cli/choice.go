package cli

import "github.com/flowgen/flowgen/diag"

// badChoice is the usage error of a flag that takes one of a set of words
// (-status, -state, -format), given value, which is none of them: it
// names the words, as want lists them, and the one value was most likely
// a typo of, as the engine's errors end for a flow it does not have
// (diag.Suggestion: `; did you mean "x"?`).
func badChoice(e *env, flag, value, want string, choices []string) int {
	return usageError(e, "unknown -%s %q; want %s%s", flag, value, want, diag.Suggestion(value, choices))
}
