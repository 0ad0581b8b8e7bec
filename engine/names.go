package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

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
	MaxRunIDLen = runtime.MaxRunIDLen
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

// CheckRunID reports whether id can be a run ID a caller chooses: the
// runtime's rule of a run ID (runtime.CheckRunID: 1 to MaxRunIDLen ASCII
// letters, digits, '.', '_', '-' and ':', starting with a letter or a
// digit, no '@'), and not of a form the engine makes itself, which a
// caller who took it first would hijack (the run of someone's event, keyed
// start, schedule tick or call): "e-" or "k-" and 24 hex digits
// (EventRunID, KeyRunID), "sched-..." (a schedule's tick), 12 hex digits, a
// '-' and digits (a new run's). Its errors wrap ErrBadName (HTTP 400), and
// runtime.ErrBadRunID for the runtime's rule.
func CheckRunID(id string) error {
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

// checkKey reports an Idempotency-Key or message ID (what) that is not 1
// to MaxKeyLen printable ASCII characters other than the space.
func checkKey(what, k string) error {
	if k == "" || len(k) > MaxKeyLen {
		return fmt.Errorf("%w: %s of %d bytes: want 1 to %d printable ASCII characters", ErrBadName, what, len(k), MaxKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: %s %q contains %s at byte %d: want printable ASCII characters other than the space", ErrBadName, what, k, snippet.CharAt(k, i), i)
		}
	}
	return nil
}

// deliveredIDProblem applies checkKey, the rule of POST /events' message
// IDs, to the ID of m, a message a broker delivers: other clients of the
// broker (a NATS client setting Nats-Msg-Id) publish past POST /events. It
// returns "" for an ID within the rule; else why m is to be dead-lettered,
// with m's ID replaced by badIDPrefix and a digest of it, which the dead
// letter is kept under: bounded and printable, and the same at every
// redelivery of the message, which the inbox then knows.
func deliveredIDProblem(m *Message) string {
	err := checkKey("message ID", m.ID)
	if err == nil {
		return ""
	}
	m.ID = badIDPrefix + digest(m.ID)
	return fmt.Sprintf("%v; kept as message ID %s", err, m.ID)
}

// badIDPrefix starts the ID a dead letter is kept under when its message's
// own ID is outside the rule (deliveredIDProblem).
const badIDPrefix = "invalid-id:"

// digest is 24 hex digits of the SHA-256 of s.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}
