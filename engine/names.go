package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/snippet"
	"github.com/flowgen/flowgen/runtime"
)

// Limits of the names and IDs the engine takes from its callers
// (docs/engine.md#names-and-ids). They keep every name within what the
// file system (a flow is saved as <flow>.json), the store and the brokers
// take, and out of the way of the server's error paths.
const (
	// MaxNameLen bounds flow and step names, rpc endpoints and services,
	// topics and events, in bytes: the limit of a flow's names
	// (dsl.MaxNameLen).
	MaxNameLen = dsl.MaxNameLen
	// MaxRunIDLen bounds a run ID chosen by a caller (?run_id=), in bytes.
	MaxRunIDLen = 128
	// MaxKeyLen bounds an Idempotency-Key and an event's message ID, in
	// bytes.
	MaxKeyLen = 255
)

// ErrBadName: a name or ID outside the limits above (HTTP 400).
var ErrBadName = errors.New("engine: invalid name")

// checkName reports a name (what it is: "flow name", "topic") outside the
// limits of names (dsl.NameProblem): empty, longer than MaxNameLen, not
// UTF-8, or with a control or format character.
func checkName(what, s string) error {
	if err := dsl.NameProblem(what, s); err != "" {
		return fmt.Errorf("%w: %s", ErrBadName, err)
	}
	return nil
}

// CheckRunID reports whether id can be a run ID a caller chooses: 1 to
// MaxRunIDLen ASCII letters, digits, '.', '_', '-' and ':', starting with a
// letter or a digit, and not of a form the engine makes itself, which a
// caller who took it first would hijack (the run of someone's event, keyed
// start, schedule tick or call): "e-" or "k-" and 24 hex digits
// (EventRunID, KeyRunID), "sched-..." (a schedule's tick), 12 hex digits, a
// '-' and digits (a new run's), or any ID with an '@' (a call's child,
// runtime.ChildRunID: the runtime's rule, runtime.CheckRunID, which
// Start applies too).
func CheckRunID(id string) error {
	if err := checkRunIDChars(id); err != nil {
		return err
	}
	if err := runtime.CheckRunID(id); err != nil {
		return fmt.Errorf("%w: %w", ErrBadName, err)
	}
	if form := engineRunIDForm(id); form != "" {
		return fmt.Errorf("%w: run ID %q has the form of %s, which the engine makes itself", ErrBadName, id, form)
	}
	return nil
}

// quoteRunID is run ID id quoted for an answer (snippet.Quote): whole up
// to MaxRunIDLen bytes, as long as an ID a caller chooses, else its start
// and "...". A run ID in a request's path is the caller's text, as long as
// a request line may be (-max-header-bytes): an answer that names it
// echoes no more of it than that. (A call's child run has a longer ID,
// made of its parent's and its step's: an answer about it cuts it too.)
func quoteRunID(id string) string { return snippet.Quote(id, MaxRunIDLen) }

// errUnknownRun is the error of a request for run id that no run has
// (404), quoting id as quoteRunID does.
func errUnknownRun(id string) error {
	return fmt.Errorf("%w: %s", runtime.ErrUnknownRun, quoteRunID(id))
}

// checkRunIDChars reports a run ID, the engine's own included, of another
// length or with other characters than run IDs have.
func checkRunIDChars(id string) error {
	if id == "" || len(id) > MaxRunIDLen {
		return fmt.Errorf("%w: run ID of %d bytes: a run ID is 1 to %d letters, digits, '.', '_', '-' and ':'", ErrBadName, len(id), MaxRunIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if isAlnum(c) || i > 0 && (c == '.' || c == '_' || c == '-' || c == ':' || c == '@') {
			continue
		}
		return fmt.Errorf("%w: run ID %q contains %s at byte %d: a run ID is letters, digits, '.', '_', '-' and ':', starting with a letter or a digit", ErrBadName, id, charAt(id, i), i)
	}
	return nil
}

// engineRunIDForm names the kind of run ID the engine makes that id looks
// like, or "". Each form is known beside the function that makes it.
func engineRunIDForm(id string) string {
	switch {
	case strings.HasPrefix(id, tickPrefix):
		return "a schedule's run"
	case isDerivedRunID(id):
		return "the run of an event or of an Idempotency-Key"
	case runtime.IsNewID(id):
		return "a new run's ID"
	}
	return ""
}

// charAt quotes the character at byte i of s for an error: the whole
// UTF-8 character, as the caller wrote it (its first byte alone reads as
// another letter: 'Ã' for the 'Ä' of "Äb"), or the byte in hex where s is
// not UTF-8.
func charAt(s string, i int) string {
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n <= 1 {
		return fmt.Sprintf("the byte %#02x", s[i])
	}
	return strconv.QuoteRune(r)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkKey reports an Idempotency-Key or message ID (what) that is not 1
// to MaxKeyLen printable ASCII characters other than the space.
func checkKey(what, k string) error {
	if k == "" || len(k) > MaxKeyLen {
		return fmt.Errorf("%w: %s of %d bytes: want 1 to %d printable ASCII characters", ErrBadName, what, len(k), MaxKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: %s %q contains %s at byte %d: want printable ASCII characters other than the space", ErrBadName, what, k, charAt(k, i), i)
		}
	}
	return nil
}
