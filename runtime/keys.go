package runtime

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/internal/snippet"
)

// The idempotency-key format and the correlation match are runtime rules that
// durable engines and brokers need too: they live here, once, and are
// exported so that nobody keeps a copy.

// Key is an action's idempotency key, split into its parts:
// "<run>/<step>[#<visit>][/rollback]". Visit 1 is written without "#1".
type Key struct {
	RunID    string
	Step     string
	Visit    int // 1 for the first execution of the step in its run
	Rollback bool
}

// String formats k; IdempotencyKey(ctx) returns the same string for the
// action k describes.
func (k Key) String() string {
	var b strings.Builder
	b.Grow(len(k.RunID) + len(k.Step) + 16)
	b.WriteString(k.RunID)
	b.WriteByte('/')
	b.WriteString(k.Step)
	if k.Visit > 1 {
		b.WriteByte('#')
		b.WriteString(strconv.Itoa(k.Visit))
	}
	if k.Rollback {
		b.WriteString("/" + keyRollback)
	}
	return b.String()
}

// keyRollback ends a rollback's idempotency key ("/rollback"); a step of
// this ID (Register refuses it) would have keys that read as a rollback's.
const keyRollback = "rollback"

// ParseKey splits an idempotency key. Run IDs may contain '/', step IDs may
// not (Register refuses ':' and white space; '/' is refused by ParseKey's
// reading from the right), so the step is the last segment before the
// optional "/rollback". It takes only the spelling Key.String writes: ok is
// false for a visit written "#1", "#02" or "#+2".
func ParseKey(s string) (Key, bool) {
	var k Key
	if rest, ok := strings.CutSuffix(s, "/"+keyRollback); ok {
		k.Rollback, s = true, rest
	}
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return Key{}, false
	}
	k.RunID, k.Step, k.Visit = s[:i], s[i+1:], 1
	if j := strings.LastIndexByte(k.Step, '#'); j >= 0 {
		n, ok := countAbove1(k.Step[j+1:])
		if !ok || j == 0 {
			return Key{}, false
		}
		k.Step, k.Visit = k.Step[:j], n
	}
	return k, true
}

// countAbove1 reads a visit or an attempt as Key.String and ChildRunID
// write it: a number of 2 or more in decimal, without a sign or leading
// zeros, so that one action has one key ("r/S#02" is not "r/S#2").
func countAbove1(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 2 && strconv.Itoa(n) == s
}

// CorrelationField is the payload member an await compares with its
// correlation value when its flow names no other (`correlate Field on path`).
const CorrelationField = "correlation_id"

// CorrelationPath is the payload path an await with path compares: path,
// or CorrelationField for "" (Wait.Field, WithCorrelationField).
func CorrelationPath(path string) string {
	if path == "" {
		return CorrelationField
	}
	return path
}

// Correlation returns the value of payload at path, a dot-separated list of
// JSON object members ("" means CorrelationField), in the form awaits
// compare it: a string's value, any other JSON value as written. ok is false
// when payload is not a JSON object or has nothing at path.
func Correlation(payload []byte, path string) (value string, ok bool) {
	raw, ok := CorrelationMember(payload, path)
	if !ok {
		return "", false
	}
	return CorrelationText(raw), true
}

// CorrelationText is what JSON value v compares as in a correlation: a
// string by its value, any other value as written ("42", "null"); "" for
// none. Correlation reads an event's member by it, and the engine a JSON
// flow's correlate field, so that a run's value and an event's follow one
// rule.
func CorrelationText(v json.RawMessage) string {
	// Only a JSON string is compared by its value: null also decodes into
	// a string (as ""), and would then wake the runs whose value is empty.
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// Correlatable is the types a run's correlation value may be read from
// in generated code (`correlate Field`): strings, integers and booleans,
// whose JSON text says one value only. The .flow checker, which sees
// go/types rather than this type set, restates it (dsl/gocheck's
// correlatable); a test there fails when the two differ.
type Correlatable interface {
	~string | ~bool |
		~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// CorrelationValue is what a run's correlation field holding v compares
// as: the CorrelationText of v's JSON encoding, as the engine reads a JSON
// flow's field. A string is its value; an integer or a boolean is written
// as JSON writes it ("42", "true"), so that an event member 42 matches a
// field holding 42. Generated awaits read a field that is not a string
// through it (a conversion string(n) of an integer would be a rune).
func CorrelationValue[T Correlatable](v T) string {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	default: // the unsigned kinds: Correlatable has no other
		return strconv.FormatUint(rv.Uint(), 10)
	}
}

// CorrelationMember returns payload's member at path ("" means
// CorrelationField) as written, without white space around it; ok is false
// when payload is not a JSON object or has nothing at path. Correlation
// reads it; the Temporal target reads it to replay runs woken before
// Correlation compared null as written.
func CorrelationMember(payload []byte, path string) (member json.RawMessage, ok bool) {
	raw := json.RawMessage(payload)
	for name := range strings.SplitSeq(CorrelationPath(path), ".") {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return nil, false
		}
		if raw, ok = m[name]; !ok || len(raw) == 0 {
			return nil, false
		}
	}
	return raw, true
}

// Correlates reports whether payload's value at path is want (see
// Correlation).
func Correlates(payload []byte, path, want string) bool {
	v, ok := Correlation(payload, path)
	return ok && v == want
}

// ChildRunID is the run ID of the child run that the call of step k starts
// (NewCall, WithRollbackCall): "<parent>@<step>[:<visit>][:rollback[:<attempt>]]",
// the visit written when it is more than 1, the attempt (of a rollback
// call, whose retry runs a new child) when it is more than 1. It is a
// function of the parent's run ID, step, visit and attempt only, so a
// parent resumed after a crash finds the child it started instead of
// starting a second one. Step IDs contain neither '@' nor ':' (Register),
// so ParseChildRunID reads it back from the right. Its characters are
// those of the parent's ID and step, '@' and ':', all valid in an engine's
// run IDs.
func ChildRunID(k Key, attempt int) string {
	var b strings.Builder
	b.Grow(len(k.RunID) + len(k.Step) + 24)
	b.WriteString(k.RunID)
	b.WriteByte('@')
	b.WriteString(k.Step)
	if k.Visit > 1 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(k.Visit))
	}
	if k.Rollback {
		b.WriteString(":rollback")
		if attempt > 1 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(attempt))
		}
	}
	return b.String()
}

// MaxRunIDLen bounds a run ID chosen with WithRunID, in bytes (CheckRunID).
const MaxRunIDLen = 128

// CheckRunID reports whether id can be the ID of a run started with
// WithRunID: 1 to MaxRunIDLen ASCII letters, digits, '.', '_', '-' and ':',
// starting with a letter or a digit. Its errors wrap ErrBadRunID. A run ID
// names the run in histories, logs, stores, URLs and the child run IDs of
// its calls, so none may be empty, unbounded, or hold a control character
// (a line break would forge a log line) or a character shown as another.
// An '@' is refused for its own reason: ChildRunID's separator, a run
// "o-1@Bill" would be taken for the child of run o-1's call Bill (its
// parent would not start its own, and would take that run's end for its
// child's), so only the child runs of calls have IDs with an '@'. The
// engine, which takes run IDs from its callers, applies this rule too
// (engine.CheckRunID), and the Temporal target to its workflow IDs.
func CheckRunID(id string) error {
	if id == "" || len(id) > MaxRunIDLen {
		return fmt.Errorf("%w: run ID of %d bytes: a run ID is 1 to %d letters, digits, '.', '_', '-' and ':'", ErrBadRunID, len(id), MaxRunIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			continue
		case i > 0 && (c == '.' || c == '_' || c == '-' || c == ':'):
			continue
		case c == '@':
			return fmt.Errorf("%w: run ID %q contains '@' at byte %d: '@' separates a call's child run ID from its parent's (ChildRunID), and a run of such an ID would be taken for that child", ErrBadRunID, id, i)
		}
		return fmt.Errorf("%w: run ID %q contains %s at byte %d: a run ID is letters, digits, '.', '_', '-' and ':', starting with a letter or a digit", ErrBadRunID, id, snippet.CharAt(id, i), i)
	}
	return nil
}

// checkStartID reports id, the ID WithRunID gives a run being started,
// that CheckRunID refuses, unless id is the ID of a child run of parent
// (WithParent: the ID ChildRunID gives a call of parent).
func checkStartID(id string, parent *RunRef) error {
	if parent != nil && strings.Contains(id, "@") {
		if k, _, ok := ParseChildRunID(id); !ok || k.RunID != parent.RunID {
			return fmt.Errorf("%w: run ID %q is not the ID of a child run of run %q (ChildRunID)", ErrBadRunID, id, parent.RunID)
		}
		return nil
	}
	return CheckRunID(id)
}

// checkHistoryRunID reports id, the run ID of a history being resumed (or
// checked: CheckHistory), that no run of the runtime has: one CheckRunID
// refuses, unless it is the ID ChildRunID gives a call's child run of such
// a run (at any depth: a child's child), for steps Register accepts. Its
// errors wrap ErrBadRunID. A history is read from a store, which a hand or
// another program may have written: the run's idempotency keys ("<run>/
// <step>", sent as Idempotency-Key headers, where a line break or another
// control character cannot go) and log lines are made of its ID.
func checkHistoryRunID(id string) error {
	for strings.Contains(id, "@") {
		k, _, ok := ParseChildRunID(id)
		if !ok {
			return fmt.Errorf("%w: run ID %q has an '@' but is not a call's child run ID (ChildRunID)", ErrBadRunID, id)
		}
		if err := stepIDError(k.Step); err != nil {
			return fmt.Errorf("%w: run ID %q: its call's %w", ErrBadRunID, id, err)
		}
		id = k.RunID
	}
	return CheckRunID(id)
}

// DescendsFrom reports whether run id is a descendant of run ancestor: a
// child run of one of its calls (ChildRunID), or a child of such a child,
// at any depth. Only ChildRunID makes IDs with an '@' (CheckRunID), and it
// writes the parent's ID and then '@', so the descendants of a run are the
// runs whose IDs begin with its own and '@'.
func DescendsFrom(id, ancestor string) bool {
	return len(id) > len(ancestor)+1 && id[len(ancestor)] == '@' && strings.HasPrefix(id, ancestor)
}

// ParseChildRunID splits a run ID made by ChildRunID into the key of the
// parent's call and the attempt (1 but for a rollback call's retries). ok is
// false for an ID ChildRunID does not make.
func ParseChildRunID(id string) (k Key, attempt int, ok bool) {
	i := strings.LastIndexByte(id, '@')
	if i <= 0 || i == len(id)-1 {
		return Key{}, 0, false
	}
	k.RunID, attempt = id[:i], 1
	parts := strings.Split(id[i+1:], ":")
	k.Step, parts = parts[0], parts[1:]
	if k.Step == "" {
		return Key{}, 0, false
	}
	k.Visit = 1
	if len(parts) > 0 && parts[0] != "rollback" {
		if k.Visit, ok = countAbove1(parts[0]); !ok {
			return Key{}, 0, false
		}
		parts = parts[1:]
	}
	if len(parts) > 0 {
		if parts[0] != "rollback" {
			return Key{}, 0, false
		}
		k.Rollback, parts = true, parts[1:]
		if len(parts) > 0 {
			if attempt, ok = countAbove1(parts[0]); !ok {
				return Key{}, 0, false
			}
			parts = parts[1:]
		}
	}
	if len(parts) > 0 {
		return Key{}, 0, false
	}
	return k, attempt, true
}
